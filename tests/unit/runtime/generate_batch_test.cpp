// Batched generation (dse_session_generate_batch) on hand-made artifacts with max_batch > 1:
// hand-computed text per sequence, independence from the other sequences of the batch, per-sequence
// stops, and the errors.
#include <catch2/catch_test_macros.hpp>
#include <string>
#include <vector>

#include "dse/dse.h"
#include "dse/dse.hpp"
#include "tiny_model.h"

using namespace dse::test;

namespace {

struct Opened {
  TempFile file{"batch"};
  dse_model* model = nullptr;
  dse_session* session = nullptr;
  explicit Opened(TinyModelSpec spec, uint64_t max_batch) {
    spec.max_batch = max_batch;
    REQUIRE(write_tiny_model(file.path(), spec).ok());
    REQUIRE(dse_model_open(file.str().c_str(), nullptr, &model) == DSE_OK);
    REQUIRE(dse_session_create(model, nullptr, &session) == DSE_OK);
  }
  ~Opened() {
    dse_session_destroy(session);
    dse_model_close(model);
  }
};

// Text per sequence; `cancel_sequence` returns non-zero on its first piece.
struct BatchText {
  std::vector<std::string> text;
  int64_t cancel_sequence = -1;
};

int collect(size_t sequence, const char* text, size_t length, void* user) {
  auto* b = static_cast<BatchText*>(user);
  b->text[sequence].append(text, length);
  return int64_t(sequence) == b->cancel_sequence ? 1 : 0;
}

// Generates the prompts together; returns each sequence's ids (`len` per sequence at most).
std::vector<std::vector<int32_t>> run_batch(dse_session* s, const std::vector<std::vector<int32_t>>& prompts,
                                            dse_generate_params p, size_t len, std::vector<dse_generate_result>* results,
                                            BatchText* text = nullptr, dse_status expect = DSE_OK) {
  std::vector<const int32_t*> data;
  std::vector<size_t> lengths;
  for (const auto& prompt : prompts) {
    data.push_back(prompt.data());
    lengths.push_back(prompt.size());
  }
  std::vector<int32_t> out(prompts.size() * len, -1);
  p.out_tokens = out.data();
  p.out_tokens_capacity = out.size();
  std::vector<dse_generate_result> r(prompts.size());
  REQUIRE(dse_session_generate_batch(s, data.data(), lengths.data(), prompts.size(), &p, text ? collect : nullptr,
                                     text, r.data()) == expect);
  std::vector<std::vector<int32_t>> ids(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) ids[i].assign(out.begin() + ptrdiff_t(i * len), out.begin() + ptrdiff_t(i * len + r[i].generated_tokens));
  if (results) *results = r;
  return ids;
}

std::vector<int32_t> run_alone(dse_session* s, const std::vector<int32_t>& prompt, dse_generate_params p, size_t len) {
  std::vector<int32_t> out(len, -1);
  p.out_tokens = out.data();
  p.out_tokens_capacity = out.size();
  dse_generate_result r{};
  dse_session_reset(s);
  REQUIRE(dse_session_generate_tokens(s, prompt.data(), prompt.size(), &p, nullptr, nullptr, &r) == DSE_OK);
  out.resize(r.generated_tokens);
  return out;
}

}  // namespace

TEST_CASE("a batch streams each sequence's text computed by hand", "[batch]") {
  Opened m(successor_model(default_successors()), 3);
  dse_model_info info{};
  REQUIRE(dse_model_get_info(m.model, &info) == DSE_OK);
  CHECK(info.max_batch == 3);
  dse_generate_params p = {};
  p.max_new_tokens = 4;
  BatchText text;
  text.text.resize(3);
  std::vector<dse_generate_result> r;
  // a -> b c d e; c d -> e " " ab a; e -> " " ab a b (prompts of 1, 2 and 1 tokens)
  run_batch(m.session, {{kA}, {kC, kD}, {kE}}, p, 4, &r, &text);
  CHECK(text.text[0] == "bcde");
  CHECK(text.text[1] == "e aba");
  CHECK(text.text[2] == " abab");
  for (const dse_generate_result& x : r) {
    CHECK(x.generated_tokens == 4);
    CHECK(x.stop_reason == DSE_STOP_MAX_TOKENS);
  }
  CHECK(r[1].prompt_tokens == 2);
  CHECK(dse_session_context_tokens(m.session) == 0);  // the batch leaves the conversation empty
}

TEST_CASE("each sequence of a batch gives the tokens it gives alone, whatever shares the batch", "[batch]") {
  // Random weights: every logit depends on the whole history, so a row reading another slot's
  // cache (or its own at the wrong position) changes the tokens.
  Opened m(random_model(21), 4);
  const std::vector<std::vector<int32_t>> prompts = {
      {kBos, kA, kB, kC, kD, kE, kA}, {kBos, kE}, {kBos, kC, kC, kC, kC, kC, kC, kC, kC, kC}, {kBos, kD, kA}};
  dse_generate_params p = {};
  p.max_new_tokens = 12;
  p.ignore_eos = 1;
  std::vector<dse_generate_result> r;
  const auto together = run_batch(m.session, prompts, p, 12, &r);
  for (size_t i = 0; i < prompts.size(); ++i) {
    INFO("sequence " << i);
    CHECK(together[i] == run_alone(m.session, prompts[i], p, 12));
  }
  // Two of the prompts in the other order: the same per-prompt tokens.
  const auto swapped = run_batch(m.session, {prompts[2], prompts[0]}, p, 12, nullptr);
  CHECK(swapped[0] == together[2]);
  CHECK(swapped[1] == together[0]);

  // Sampling: sequence i draws with seed + i, so it is the prompt alone with that seed.
  p.temperature = 0.9f;
  p.top_k = 20;
  p.seed = 5;
  const auto sampled = run_batch(m.session, {prompts[0], prompts[1]}, p, 12, nullptr);
  CHECK(sampled[0] == run_alone(m.session, prompts[0], p, 12));
  p.seed = 6;
  CHECK(sampled[1] == run_alone(m.session, prompts[1], p, 12));
}

TEST_CASE("sequences of a batch stop on their own: EOS, a cancel, a full context", "[batch]") {
  std::vector<int32_t> successors = default_successors();
  successors[size_t(kE)] = kEos;
  TinyModelSpec spec = successor_model(successors);
  spec.max_seq_len = 8;
  Opened m(spec, 3);
  dse_generate_params p = {};
  p.max_new_tokens = 6;
  BatchText text;
  text.text.resize(3);
  text.cancel_sequence = 1;
  std::vector<dse_generate_result> r;
  // c -> d e EOS; b: cancelled at its first piece; "   " -> ab a b c d fills the context of 8.
  const auto ids = run_batch(m.session, {{kC}, {kB}, {kSpace, kSpace, kSpace}}, p, 6, &r, &text);
  CHECK(text.text[0] == "de");
  CHECK(r[0].stop_reason == DSE_STOP_EOS);
  CHECK(ids[0] == std::vector<int32_t>{kD, kE, kEos});
  CHECK(r[1].stop_reason == DSE_STOP_CANCELLED);
  CHECK(r[1].generated_tokens == 1);
  CHECK(r[2].stop_reason == DSE_STOP_CONTEXT_FULL);
  CHECK(r[2].generated_tokens == 5);
  CHECK(text.text[2] == "ababcd");
}

TEST_CASE("batched generation refuses bad batches with a message and runs nothing", "[batch]") {
  Opened m(successor_model(default_successors()), 2);
  dse_generate_params p = {};
  p.max_new_tokens = 2;
  std::vector<dse_generate_result> r;
  run_batch(m.session, {{kA}, {kB}, {kC}}, p, 2, &r, nullptr, DSE_INVALID_ARGUMENT);
  CHECK(std::string(dse_last_error_message()).find("--max-batch") != std::string::npos);
  run_batch(m.session, {{kA}, {}}, p, 2, &r, nullptr, DSE_OUT_OF_RANGE);
  run_batch(m.session, {{kA}, {int32_t(kTinyVocab)}}, p, 2, &r, nullptr, DSE_INVALID_ARGUMENT);
  CHECK(std::string(dse_last_error_message()).find("prompt 1 token 0") != std::string::npos);
  run_batch(m.session, {std::vector<int32_t>(64, kA)}, p, 2, &r, nullptr, DSE_OUT_OF_RANGE);
  CHECK(dse_session_generate_batch(m.session, nullptr, nullptr, 1, &p, nullptr, nullptr, nullptr) ==
        DSE_INVALID_ARGUMENT);

  // A one-sequence artifact takes a batch of one.
  Opened one(successor_model(default_successors()), 1);
  const auto ids = run_batch(one.session, {{kA}}, p, 2, &r);
  CHECK(ids[0] == std::vector<int32_t>{kB, kC});
  run_batch(one.session, {{kA}, {kB}}, p, 2, &r, nullptr, DSE_INVALID_ARGUMENT);
}

TEST_CASE("the C++ wrapper generates a batch and stops one sequence from its callback", "[batch]") {
  Opened m(successor_model(default_successors()), 2);
  auto model = dse::Model::open(m.file.str());
  REQUIRE(model.ok());
  auto session = dse::Session::create(*model);
  REQUIRE(session.ok());
  dse_generate_params p = {};
  p.max_new_tokens = 3;
  const std::vector<int32_t> a = {kA}, c = {kC};
  const std::span<const int32_t> prompts[] = {a, c};
  std::string text[2];
  dse_generate_result r[2];
  dse::Status st = session->generate_batch(
      prompts, p,
      [&](size_t sequence, std::string_view piece) {
        text[sequence] += piece;
        return sequence == 0;
      },
      r);
  REQUIRE(st.ok());
  CHECK(text[0] == "bcd");
  CHECK(text[1] == "d");
  CHECK(r[1].stop_reason == DSE_STOP_CANCELLED);
}
