// CUDA artifacts: refused by a build without the CUDA backend; with it and a GPU, a session runs
// on the device and gives the CPU backend's tokens and logits (the tiny models, f32 kernels).
// Without a GPU (this build machine) the device tests SKIP after checking the refusal message.
#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "dse/dse.h"
#include "dse/runtime/gpu_backend.h"
#include "dse/runtime/session.h"
#include "tiny_model.h"

using namespace dse::test;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A model and session on one backend ("cpu" or "cuda"); session is null when creation failed.
struct Backend {
  TempFile file{"gpu-session"};
  dse_model* model = nullptr;
  dse_session* session = nullptr;
  dse_status created = DSE_OK;
  std::string message;
  Backend(TinyModelSpec spec, const std::string& backend) {
    spec.backend = backend;
    REQUIRE(write_tiny_model(file.path(), spec).ok());
    REQUIRE(dse_model_open(file.str().c_str(), nullptr, &model) == DSE_OK);
    created = dse_session_create(model, nullptr, &session);
    if (created != DSE_OK) message = dse_last_error_message();
  }
  ~Backend() {
    dse_session_destroy(session);
    dse_model_close(model);
  }
};

// Skips the test (after checking the message says why) when no usable GPU is here.
void require_gpu(const Backend& b) {
  if (b.created == DSE_OK) return;
  CHECK_FALSE(b.message.empty());
  SKIP("no usable CUDA device: " + b.message);
}

std::vector<int32_t> greedy(dse_session* s, const std::vector<int32_t>& prompt, uint32_t n) {
  std::vector<int32_t> out(n);
  dse_generate_params p = {};
  p.max_new_tokens = n;
  p.ignore_eos = 1;
  p.out_tokens = out.data();
  p.out_tokens_capacity = out.size();
  dse_generate_result r{};
  REQUIRE(dse_session_generate_tokens(s, prompt.data(), prompt.size(), &p, nullptr, nullptr, &r) == DSE_OK);
  out.resize(r.generated_tokens);
  return out;
}

}  // namespace

TEST_CASE("a CUDA artifact opens only where libdse has the CUDA backend", "[gpu]") {
  TempFile f("cuda-open");
  TinyModelSpec spec = successor_model(default_successors());
  spec.backend = "cuda";
  REQUIRE(write_tiny_model(f.path(), spec).ok());
  dse_model* m = nullptr;
  const dse_status st = dse_model_open(f.str().c_str(), nullptr, &m);
  if (dse::runtime::gpu_backend_kind() == dse::targets::Backend::cuda) {
    CHECK(st == DSE_OK);
  } else {
    CHECK(st == DSE_TARGET_MISMATCH);
    const std::string msg = dse_last_error_message();
    CHECK(contains(msg, "sm_90"));
    CHECK(contains(msg, "DSE_ENABLE_CUDA"));
  }
  dse_model_close(m);
}

TEST_CASE("on a GPU, the successor model generates the tokens written down by hand", "[gpu]") {
  if (!dse::runtime::gpu_backend_built()) SKIP("built without DSE_ENABLE_CUDA");
  Backend gpu(successor_model(default_successors()), "cuda");
  require_gpu(gpu);
  // a -> b -> c -> d -> e -> " " -> ab -> a ... (default_successors), through prefill chunks.
  CHECK(greedy(gpu.session, {kBos, kC, kD, kA}, 6) == std::vector<int32_t>{kB, kC, kD, kE, kSpace, kAB});
  dse_memory_plan plan{};
  REQUIRE(dse_session_get_memory_plan(gpu.session, &plan) == DSE_OK);
  CHECK(plan.on_gpu == 1);
  CHECK(plan.device_bytes >= plan.kv_cache_bytes + plan.arena_bytes);
}

TEST_CASE("on a GPU, random models give the CPU's greedy tokens over several prefill chunks", "[gpu]") {
  if (!dse::runtime::gpu_backend_built()) SKIP("built without DSE_ENABLE_CUDA");
  for (uint64_t seed : {1u, 2u, 3u}) {
    Backend cpu(random_model(seed), "cpu");
    Backend gpu(random_model(seed), "cuda");
    REQUIRE(cpu.created == DSE_OK);
    require_gpu(gpu);
    const std::vector<int32_t> prompt = {kBos, kA, kB, kSpace, kC, kD, kE, kAB, kA, kB};
    CHECK(greedy(gpu.session, prompt, 24) == greedy(cpu.session, prompt, 24));
    // The conversation continues on the device: same as the CPU again.
    CHECK(greedy(gpu.session, {kC}, 8) == greedy(cpu.session, {kC}, 8));
  }
}

TEST_CASE("on a GPU, forward gives the CPU's logits and sampling at a temperature the CPU's text", "[gpu]") {
  if (!dse::runtime::gpu_backend_built()) SKIP("built without DSE_ENABLE_CUDA");
  Backend cpu(random_model(7), "cpu");
  Backend gpu(random_model(7), "cuda");
  REQUIRE(cpu.created == DSE_OK);
  require_gpu(gpu);
  const int32_t prompt[] = {kBos, kA, kB, kC, kD, kE};
  const float* lc = nullptr;
  const float* lg = nullptr;
  REQUIRE(dse_session_forward(cpu.session, prompt, 6, &lc) == DSE_OK);
  std::vector<float> cpu_logits(lc, lc + kTinyVocab);
  REQUIRE(dse_session_forward(gpu.session, prompt, 6, &lg) == DSE_OK);
  double worst = 0;
  for (int64_t i = 0; i < kTinyVocab; ++i) worst = std::max(worst, double(std::fabs(lg[i] - cpu_logits[size_t(i)])));
  CHECK(worst < 1e-3);

  // Temperature sampling copies the logits to the host: the same draws as the CPU.
  dse_session_reset(cpu.session);
  dse_session_reset(gpu.session);
  dse_generate_params p = {};
  p.max_new_tokens = 16;
  p.ignore_eos = 1;
  p.temperature = 0.7f;
  p.top_k = 20;
  p.seed = 11;
  std::vector<int32_t> a(16), b(16);
  dse_generate_result r{};
  p.out_tokens = a.data();
  p.out_tokens_capacity = a.size();
  REQUIRE(dse_session_generate_tokens(cpu.session, prompt, 6, &p, nullptr, nullptr, &r) == DSE_OK);
  p.out_tokens = b.data();
  REQUIRE(dse_session_generate_tokens(gpu.session, prompt, 6, &p, nullptr, nullptr, &r) == DSE_OK);
  CHECK(a == b);
}

TEST_CASE("on a GPU, a prompt past the planned context is refused with out_of_range", "[gpu]") {
  if (!dse::runtime::gpu_backend_built()) SKIP("built without DSE_ENABLE_CUDA");
  Backend gpu(random_model(4), "cuda");
  require_gpu(gpu);
  std::vector<int32_t> full(64, kA);
  full[0] = kBos;
  const float* logits = nullptr;
  REQUIRE(dse_session_forward(gpu.session, full.data(), full.size(), &logits) == DSE_OK);
  const int32_t more[] = {kB};
  CHECK(dse_session_forward(gpu.session, more, 1, &logits) == DSE_OUT_OF_RANGE);
}

TEST_CASE("on a GPU, both entry points are captured once as CUDA graphs", "[gpu]") {
  if (!dse::runtime::gpu_backend_built()) SKIP("built without DSE_ENABLE_CUDA");
  TempFile f("graphs");
  TinyModelSpec spec = random_model(5);
  spec.backend = "cuda";
  REQUIRE(write_tiny_model(f.path(), spec).ok());
  auto model = dse::runtime::LoadedModel::open(f.path(), {});
  REQUIRE(model.ok());
  auto session = dse::runtime::Session::create(**model, {});
  if (!session.ok()) SKIP("no usable CUDA device: " + session.status().message());
  const dse::runtime::GpuBackend* gpu = (*session)->gpu_backend();
  REQUIRE(gpu != nullptr);
  CHECK(gpu->captured_as_graph(dse::runtime::GpuBackend::Entry::decode));
  CHECK(gpu->captured_as_graph(dse::runtime::GpuBackend::Entry::prefill));
  CHECK((*session)->memory_plan().on_gpu);
}

TEST_CASE("on a GPU, zstd weights decoded in chunks on the host give the same tokens", "[gpu]") {
  if (!dse::runtime::gpu_backend_built()) SKIP("built without DSE_ENABLE_CUDA");
  TinyModelSpec plain = random_model(8);
  TinyModelSpec packed = random_model(8);
  packed.codec = dse::fb::Codec::Zstd;
  Backend cpu(plain, "cpu");
  Backend gpu(packed, "cuda");
  REQUIRE(cpu.created == DSE_OK);
  require_gpu(gpu);
  const std::vector<int32_t> prompt = {kBos, kE, kD, kC, kB, kA};
  CHECK(greedy(gpu.session, prompt, 16) == greedy(cpu.session, prompt, 16));
}

namespace {
// The ids of each sequence of a batch generated together (n per sequence).
std::vector<std::vector<int32_t>> batch_tokens(dse_session* s, const std::vector<std::vector<int32_t>>& prompts,
                                               dse_generate_params p) {
  const size_t n = p.max_new_tokens;
  std::vector<const int32_t*> data;
  std::vector<size_t> lengths;
  for (const auto& q : prompts) {
    data.push_back(q.data());
    lengths.push_back(q.size());
  }
  std::vector<int32_t> out(prompts.size() * n, -1);
  p.out_tokens = out.data();
  p.out_tokens_capacity = out.size();
  std::vector<dse_generate_result> r(prompts.size());
  REQUIRE(dse_session_generate_batch(s, data.data(), lengths.data(), prompts.size(), &p, nullptr, nullptr, r.data()) ==
          DSE_OK);
  std::vector<std::vector<int32_t>> ids;
  for (size_t i = 0; i < prompts.size(); ++i)
    ids.emplace_back(out.begin() + ptrdiff_t(i * n), out.begin() + ptrdiff_t(i * n + r[i].generated_tokens));
  return ids;
}
}  // namespace

TEST_CASE("on a GPU, a batch of random models gives the CPU's tokens per sequence, greedy and sampled", "[gpu][batch]") {
  if (!dse::runtime::gpu_backend_built()) SKIP("built without DSE_ENABLE_CUDA");
  TinyModelSpec spec = random_model(33);
  spec.max_batch = 3;
  Backend gpu(spec, "cuda");
  require_gpu(gpu);
  Backend cpu(spec, "cpu");
  REQUIRE(cpu.created == DSE_OK);
  const std::vector<std::vector<int32_t>> prompts = {
      {kBos, kA, kB, kC, kD, kE, kA, kB, kC}, {kBos, kE}, {kBos, kC, kC, kD, kA, kB}};
  dse_generate_params p = {};
  p.max_new_tokens = 16;
  p.ignore_eos = 1;
  const auto on_gpu = batch_tokens(gpu.session, prompts, p);  // argmax of every row on the device
  CHECK(on_gpu == batch_tokens(cpu.session, prompts, p));
  for (size_t i = 0; i < prompts.size(); ++i) {
    dse_session_reset(cpu.session);  // each prompt alone, from an empty context
    CHECK(on_gpu[i] == greedy(cpu.session, prompts[i], 16));
  }
  p.temperature = 0.8f;  // every row's logits copied to the host
  p.top_k = 30;
  p.seed = 9;
  CHECK(batch_tokens(gpu.session, prompts, p) == batch_tokens(cpu.session, prompts, p));
  // One sequence on this 3-slot artifact (plain generate, and a batch of one) replays the decode
  // program cut to one row: the same tokens as the CPU.
  for (size_t i = 0; i < prompts.size(); ++i) {
    dse_session_reset(gpu.session);
    dse_session_reset(cpu.session);
    CHECK(greedy(gpu.session, prompts[i], 16) == greedy(cpu.session, prompts[i], 16));
  }
  p.temperature = 0.0f;
  CHECK(batch_tokens(gpu.session, {prompts[1]}, p) == batch_tokens(cpu.session, {prompts[1]}, p));
}
