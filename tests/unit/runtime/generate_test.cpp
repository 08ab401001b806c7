// Generation through the C API on hand-made artifacts: streaming, every stop condition,
// continuing a conversation, memory limits, context limits, chat rendering.
#include <catch2/catch_test_macros.hpp>
#include <string>
#include <thread>
#include <vector>

#include "dse/dse.h"
#include "dse/dse.hpp"
#include "dse/runtime/memory_plan.h"
#include "dse/tokenizer/utf8.h"
#include "tiny_model.h"

using namespace dse::test;

namespace {

struct Opened {
  TempFile file{"generate"};
  dse_model* model = nullptr;
  dse_session* session = nullptr;
  explicit Opened(const TinyModelSpec& spec, const dse_session_options* options = nullptr) {
    REQUIRE(write_tiny_model(file.path(), spec).ok());
    REQUIRE(dse_model_open(file.str().c_str(), nullptr, &model) == DSE_OK);
    REQUIRE(dse_session_create(model, options, &session) == DSE_OK);
  }
  ~Opened() {
    dse_session_destroy(session);
    dse_model_close(model);
  }
};

struct Collected {
  std::string text;
  int pieces = 0;
  int cancel_after = -1;  // pieces; -1: never
};

int collect(const char* text, size_t length, void* user) {
  auto* c = static_cast<Collected*>(user);
  c->text.append(text, length);
  ++c->pieces;
  return c->cancel_after >= 0 && c->pieces >= c->cancel_after ? 1 : 0;
}

std::vector<int32_t> successors_with(int32_t from, int32_t to) {
  std::vector<int32_t> s = default_successors();
  s[size_t(from)] = to;
  return s;
}

// Generates from `prompt` tokens; returns the generated ids.
std::vector<int32_t> run_tokens(dse_session* s, const std::vector<int32_t>& prompt, dse_generate_params p,
                                dse_generate_result* result = nullptr, dse_status expect = DSE_OK) {
  std::vector<int32_t> out(256, -1);
  p.out_tokens = out.data();
  p.out_tokens_capacity = out.size();
  dse_generate_result r{};
  REQUIRE(dse_session_generate_tokens(s, prompt.data(), prompt.size(), &p, nullptr, nullptr, &r) == expect);
  out.resize(r.generated_tokens);
  if (result) *result = r;
  return out;
}

}  // namespace

TEST_CASE("greedy generation streams the text computed by hand", "[generate]") {
  Opened m(successor_model(default_successors()));
  dse_generate_params p = {};
  p.max_new_tokens = 4;
  Collected c;
  dse_generate_result r{};
  const int32_t prompt[] = {kA};
  REQUIRE(dse_session_generate_tokens(m.session, prompt, 1, &p, collect, &c, &r) == DSE_OK);
  CHECK(c.text == "bcde");  // a -> b -> c -> d -> e
  CHECK(c.pieces == 4);
  CHECK(r.generated_tokens == 4);
  CHECK(r.prompt_tokens == 1);
  CHECK(r.stop_reason == DSE_STOP_MAX_TOKENS);
}

TEST_CASE("a text prompt is tokenized with BOS and merges", "[generate]") {
  Opened m(successor_model(default_successors()));
  dse_generate_params p = {};
  p.max_new_tokens = 3;
  Collected c;
  dse_generate_result r{};
  // " ab" -> [bos, " ", "ab"]; ab -> a -> b -> c
  REQUIRE(dse_session_generate(m.session, " ab", 3, &p, collect, &c, &r) == DSE_OK);
  CHECK(r.prompt_tokens == 3);
  CHECK(c.text == "abc");
  CHECK(dse_session_context_tokens(m.session) == 6);
}

TEST_CASE("generation stops at EOS without emitting it and the session continues", "[generate]") {
  Opened m(successor_model(successors_with(kE, kEos)));
  dse_generate_params p = {};
  p.max_new_tokens = 20;
  Collected c;
  dse_generate_result r{};
  const int32_t prompt[] = {kA};
  REQUIRE(dse_session_generate_tokens(m.session, prompt, 1, &p, collect, &c, &r) == DSE_OK);
  CHECK(c.text == "bcde");
  CHECK(r.stop_reason == DSE_STOP_EOS);
  CHECK(r.generated_tokens == 5);
  CHECK(dse_session_context_tokens(m.session) == 5);  // a b c d e; the EOS is not kept

  // ignore_eos goes past it (EOS is special: no text).
  dse_session_reset(m.session);
  p.ignore_eos = 1;
  p.max_new_tokens = 6;
  auto tokens = run_tokens(m.session, {kA}, p);
  CHECK(tokens == std::vector<int32_t>{kB, kC, kD, kE, kEos, kA});

  // The session is usable after a stop.
  p = {};
  p.max_new_tokens = 1;
  CHECK(run_tokens(m.session, {kC}, p) == std::vector<int32_t>{kD});
}

TEST_CASE("the special token that closes an assistant turn also ends generation", "[generate]") {
  // A chat format whose assistant turns end with "<s>\n": that token stops like EOS.
  TinyModelSpec spec = successor_model(successors_with(kE, kBos));
  spec.assistant_suffix = "<s>\n";
  Opened m(spec);
  dse_generate_params p = {};
  p.max_new_tokens = 20;
  dse_generate_result r{};
  CHECK(run_tokens(m.session, {kA}, p, &r) == std::vector<int32_t>{kB, kC, kD, kE, kBos});
  CHECK(r.stop_reason == DSE_STOP_EOS);
}

TEST_CASE("a stop string ends generation and is not streamed", "[generate]") {
  Opened m(successor_model(default_successors()));
  const char* stops[] = {"zz", "cd"};
  dse_generate_params p = {};
  p.max_new_tokens = 20;
  p.stop_strings = stops;
  p.n_stop_strings = 2;
  Collected c;
  dse_generate_result r{};
  const int32_t prompt[] = {kA};
  REQUIRE(dse_session_generate_tokens(m.session, prompt, 1, &p, collect, &c, &r) == DSE_OK);
  CHECK(c.text == "b");
  CHECK(r.stop_reason == DSE_STOP_STRING);
  CHECK(r.generated_tokens == 3);  // b c d: "cd" is complete with d
}

TEST_CASE("a callback that returns non-zero cancels and the session stays usable", "[generate]") {
  Opened m(successor_model(default_successors()));
  dse_generate_params p = {};
  p.max_new_tokens = 20;
  Collected c;
  c.cancel_after = 2;
  dse_generate_result r{};
  const int32_t prompt[] = {kA};
  CHECK(dse_session_generate_tokens(m.session, prompt, 1, &p, collect, &c, &r) == DSE_CANCELLED);
  CHECK(c.text == "bc");
  CHECK(r.stop_reason == DSE_STOP_CANCELLED);
  CHECK(r.generated_tokens == 2);
  CHECK(std::string(dse_last_error_message()).find("cancelled") != std::string::npos);

  // The cancelled reply stays in the context: the next call continues after "c".
  Collected more;
  p.max_new_tokens = 2;
  REQUIRE(dse_session_generate_tokens(m.session, nullptr, 0, &p, collect, &more, &r) == DSE_OK);
  CHECK(more.text == "de");
}

TEST_CASE("continuing a conversation gives the same tokens as one long prompt", "[generate]") {
  const TinyModelSpec spec = random_model(7);
  Opened a(spec), b(spec);
  const std::vector<int32_t> first = {kBos, kA, kB, kSpace, kC, kD, kE};  // two prefill chunks
  const std::vector<int32_t> second = {kAB, kSpace, kE, kC, kC};
  for (float temperature : {0.0f, 1.0f}) {
    dse_session_reset(a.session);
    dse_session_reset(b.session);
    dse_generate_params p = {};
    p.temperature = temperature;
    p.seed = 1234;
    p.max_new_tokens = 6;
    const auto reply = run_tokens(a.session, first, p);
    REQUIRE(reply.size() == 6);
    p.max_new_tokens = 10;
    const auto continued = run_tokens(a.session, second, p);

    std::vector<int32_t> whole = first;
    whole.insert(whole.end(), reply.begin(), reply.end());
    whole.insert(whole.end(), second.begin(), second.end());
    dse_generate_result r{};
    const auto at_once = run_tokens(b.session, whole, p, &r);
    CHECK(r.prompt_tokens == whole.size());
    CHECK(continued == at_once);
    CHECK(dse_session_context_tokens(a.session) == dse_session_context_tokens(b.session));
  }
}

TEST_CASE("the same seed gives the same text and sampling options change it", "[generate]") {
  Opened m(random_model(11));
  dse_generate_params p = {};
  p.temperature = 1.5f;
  p.seed = 99;
  p.max_new_tokens = 24;
  p.ignore_eos = 1;
  const auto one = run_tokens(m.session, {kBos, kA}, p);
  dse_session_reset(m.session);
  const auto two = run_tokens(m.session, {kBos, kA}, p);
  CHECK(one == two);
  dse_session_reset(m.session);
  p.seed = 100;
  CHECK(run_tokens(m.session, {kBos, kA}, p) != one);

  // top_k = 1 is greedy whatever the temperature and seed.
  dse_session_reset(m.session);
  p.top_k = 1;
  const auto k1 = run_tokens(m.session, {kBos, kA}, p);
  dse_session_reset(m.session);
  dse_generate_params greedy = {};
  greedy.max_new_tokens = 24;
  greedy.ignore_eos = 1;
  CHECK(run_tokens(m.session, {kBos, kA}, greedy) == k1);
}

TEST_CASE("a prompt longer than the planned context fails with out_of_range", "[generate]") {
  Opened m(successor_model(default_successors()));
  std::vector<int32_t> prompt(65, kA);
  dse_generate_params p = {};
  p.max_new_tokens = 1;
  dse_generate_result r{};
  CHECK(dse_session_generate_tokens(m.session, prompt.data(), prompt.size(), &p, nullptr, nullptr, &r) ==
        DSE_OUT_OF_RANGE);
  const std::string msg = dse_last_error_message();
  CHECK(msg.find("65 tokens") != std::string::npos);
  CHECK(msg.find("64 tokens") != std::string::npos);
  CHECK(dse_session_context_tokens(m.session) == 0);

  // Also when the earlier conversation fills part of the context.
  prompt.resize(40);
  CHECK(run_tokens(m.session, prompt, p).size() == 1);
  CHECK(dse_session_generate_tokens(m.session, prompt.data(), prompt.size(), &p, nullptr, nullptr, &r) ==
        DSE_OUT_OF_RANGE);
  CHECK(std::string(dse_last_error_message()).find("already holds 41") != std::string::npos);
  CHECK(dse_session_context_tokens(m.session) == 41);
}

TEST_CASE("generation stops when the planned context is full", "[generate]") {
  Opened m(successor_model(default_successors()));
  std::vector<int32_t> prompt(60, kA);
  dse_generate_params p = {};  // no token limit
  dse_generate_result r{};
  run_tokens(m.session, prompt, p, &r);
  CHECK(r.stop_reason == DSE_STOP_CONTEXT_FULL);
  CHECK(r.generated_tokens == 4);
  CHECK(dse_session_context_tokens(m.session) == 64);

  // A full context generates nothing more, and says so.
  run_tokens(m.session, {}, p, &r);
  CHECK(r.stop_reason == DSE_STOP_CONTEXT_FULL);
  CHECK(r.generated_tokens == 0);
  CHECK(dse_session_context_tokens(m.session) == 64);
}

TEST_CASE("session creation fails cleanly with the numbers when the memory limit is too small", "[session]") {
  TempFile f("limit");
  REQUIRE(write_tiny_model(f.path(), successor_model(default_successors())).ok());
  dse_model* model = nullptr;
  REQUIRE(dse_model_open(f.str().c_str(), nullptr, &model) == DSE_OK);
  dse_memory_plan plan{};
  REQUIRE(dse_model_get_memory_plan(model, nullptr, &plan) == DSE_OK);

  dse_session_options o = {};
  o.memory_limit_bytes = plan.total_allocated_bytes - 1;
  dse_session* s = nullptr;
  CHECK(dse_session_create(model, &o, &s) == DSE_OUT_OF_MEMORY);
  CHECK(s == nullptr);
  const std::string msg = dse_last_error_message();
  CHECK(msg.find(std::to_string(plan.total_allocated_bytes) + " bytes") != std::string::npos);
  CHECK(msg.find(std::to_string(plan.total_allocated_bytes - 1) + " bytes") != std::string::npos);
  CHECK(msg.find("KV cache") != std::string::npos);

  o.memory_limit_bytes = plan.total_allocated_bytes;
  REQUIRE(dse_session_create(model, &o, &s) == DSE_OK);
  dse_memory_plan taken{};
  REQUIRE(dse_session_get_memory_plan(s, &taken) == DSE_OK);
  CHECK(taken.total_allocated_bytes == plan.total_allocated_bytes);
  dse_session_destroy(s);
  dse_model_close(model);
}

TEST_CASE("zstd weights are decoded into the session and give the same text", "[session]") {
  TinyModelSpec spec = random_model(3);
  Opened plain(spec);
  spec.codec = dse::fb::Codec::Zstd;
  Opened packed(spec);
  dse_memory_plan plan{};
  REQUIRE(dse_session_get_memory_plan(packed.session, &plan) == DSE_OK);
  CHECK(plan.weights_resident_bytes >= 2 * 259 * 16 * 4);
  CHECK(plan.weights_mapped_bytes == 0);
  dse_generate_params p = {};
  p.max_new_tokens = 12;
  p.ignore_eos = 1;
  CHECK(run_tokens(plain.session, {kBos, kC}, p) == run_tokens(packed.session, {kBos, kC}, p));
}

TEST_CASE("sessions of one model generate the same text on several threads at once", "[session]") {
  TempFile f("threads");
  REQUIRE(write_tiny_model(f.path(), random_model(5)).ok());
  auto model = dse::Model::open(f.str());
  REQUIRE(model.ok());
  dse_generate_params p = {};
  p.max_new_tokens = 16;
  p.ignore_eos = 1;
  p.temperature = 0.8f;
  p.seed = 5;
  std::vector<std::string> texts(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < texts.size(); ++i) {
    threads.emplace_back([&, i] {
      dse_session_options o = {};
      o.n_threads = 2;
      auto s = dse::Session::create(*model, &o);
      if (!s.ok()) return;
      (void)s->generate("abc", p, [&](std::string_view t) {
        texts[i] += t;
        return true;
      });
    });
  }
  for (auto& t : threads) t.join();
  CHECK_FALSE(texts[0].empty());
  for (const auto& t : texts) CHECK(t == texts[0]);
}

TEST_CASE("a conversation renders with the artifact's chat format", "[chat]") {
  TempFile f("chat");
  REQUIRE(write_tiny_model(f.path(), successor_model(default_successors())).ok());
  auto model = dse::Model::open(f.str());
  REQUIRE(model.ok());
  const dse_chat_message first[] = {{DSE_ROLE_USER, "b"}};
  auto text = model->render_chat(first, DSE_CHAT_BEGIN | DSE_CHAT_GENERATION_PROMPT);
  REQUIRE(text.ok());
  CHECK(*text == "<s>ab ");  // begin, user prefix "a", content, assistant prefix " "
  auto next = model->render_chat(first, DSE_CHAT_CLOSE_ASSISTANT | DSE_CHAT_GENERATION_PROMPT);
  REQUIRE(next.ok());
  CHECK(*next == "</s>ab ");

  // Rendered text goes through the tokenizer's special tokens: BOS is not doubled.
  auto ids = model->tokenize(*text, false);
  REQUIRE(ids.ok());
  CHECK(*ids == std::vector<int32_t>{kBos, kAB, kSpace});

  TinyModelSpec base = successor_model(default_successors());
  base.with_chat = false;
  TempFile g("nochat");
  REQUIRE(write_tiny_model(g.path(), base).ok());
  auto plain = dse::Model::open(g.str());
  REQUIRE(plain.ok());
  auto none = plain->render_chat(first, DSE_CHAT_BEGIN);
  REQUIRE_FALSE(none.ok());
  CHECK(none.status().code() == dse::StatusCode::unsupported);
}

TEST_CASE("a plan larger than the memory the system has available fails with the numbers", "[session]") {
  dse::runtime::MemoryPlan plan;
  plan.kv_cache_bytes = uint64_t(3) << 30;
  plan.arena_bytes = uint64_t(1) << 30;
  const dse::Status st = dse::runtime::check_available_memory(plan, uint64_t(2) << 30);
  CHECK(st.code() == dse::StatusCode::out_of_memory);
  CHECK(st.message().find("4.00 GiB") != std::string::npos);
  CHECK(st.message().find("2.00 GiB (2147483648 bytes) available") != std::string::npos);
  CHECK(dse::runtime::check_available_memory(plan, 0).ok());  // unknown: not checked
  CHECK(dse::runtime::available_host_memory_bytes() > 0);     // Linux test machines have /proc
}

TEST_CASE("forward returns the logits computed by hand and continues the context", "[generate]") {
  Opened m(successor_model(default_successors()));
  const float* logits = nullptr;
  // [a]: x = e_a, attention over one token gives e_a, h = 2 e_a: logits[b] = 10 * 2, the rest 0.
  const int32_t a[] = {kA};
  REQUIRE(dse_session_forward(m.session, a, 1, &logits) == DSE_OK);
  CHECK(logits[kB] == 20.0f);
  CHECK(logits[kA] == 0.0f);
  CHECK(logits[kC] == 0.0f);
  // [a, b]: attention scale 0 averages e_a and e_b; h = e_b + (e_a + e_b) / 2.
  const int32_t b[] = {kB};
  REQUIRE(dse_session_forward(m.session, b, 1, &logits) == DSE_OK);
  CHECK(logits[kC] == 15.0f);  // 10 * h[b] = 10 * 1.5
  CHECK(logits[kB] == 5.0f);   // 10 * h[a] = 10 * 0.5
  CHECK(dse_session_context_tokens(m.session) == 2);

  std::vector<int32_t> too_many(63, kA);
  CHECK(dse_session_forward(m.session, too_many.data(), too_many.size(), &logits) == DSE_OUT_OF_RANGE);
  const int32_t bad[] = {9999};
  CHECK(dse_session_forward(m.session, bad, 1, &logits) == DSE_INVALID_ARGUMENT);
  CHECK(std::string(dse_last_error_message()).find("9999") != std::string::npos);
}

TEST_CASE("tokenize measures with capacity 0 and fills a large enough buffer", "[generate]") {
  TempFile f("tokenize");
  REQUIRE(write_tiny_model(f.path(), successor_model(default_successors())).ok());
  dse_model* model = nullptr;
  REQUIRE(dse_model_open(f.str().c_str(), nullptr, &model) == DSE_OK);
  size_t n = 0;
  CHECK(dse_model_tokenize(model, "ab cd", 5, 1, nullptr, 0, &n) == DSE_OUT_OF_RANGE);
  CHECK(n == 5);  // <s> ab " " c d
  std::vector<int32_t> ids(n);
  REQUIRE(dse_model_tokenize(model, "ab cd", 5, 1, ids.data(), ids.size(), &n) == DSE_OK);
  CHECK(ids == std::vector<int32_t>{kBos, kAB, kSpace, kC, kD});
  dse_model_close(model);
}

TEST_CASE("text sampled at a high temperature reaches the callback as valid UTF-8, as decode gives it", "[generate][utf8]") {
  // The byte vocabulary samples lone continuation bytes and unfinished characters often at 1.5.
  Opened m(random_model(11));
  int invalid_token_runs = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    dse_generate_params p = {};
    p.max_new_tokens = 24;
    p.temperature = 1.5f;
    p.seed = seed;
    p.ignore_eos = 1;
    std::vector<int32_t> out(24);
    p.out_tokens = out.data();
    p.out_tokens_capacity = out.size();
    Collected c;
    dse_generate_result r{};
    dse_session_reset(m.session);
    const int32_t prompt[] = {kBos, kA};
    REQUIRE(dse_session_generate_tokens(m.session, prompt, 2, &p, collect, &c, &r) == DSE_OK);
    CHECK(dse::tokenizer::find_invalid_utf8(c.text) == c.text.size());
    // The same text as the tokenizer's decode of the generated ids (special tokens skipped).
    std::string raw;
    for (uint64_t i = 0; i < r.generated_tokens; ++i) {
      if (out[i] >= 2 && out[i] < 258) raw += char(out[i] - 2);
      if (out[i] == kAB) raw += "ab";
    }
    if (dse::tokenizer::find_invalid_utf8(raw) != raw.size()) ++invalid_token_runs;
    std::string expected;
    dse::tokenizer::append_utf8_lossy(raw, expected);
    CHECK(c.text == expected);
  }
  CHECK(invalid_token_runs > 0);  // the test did see invalid bytes
}
