// Generating allocates nothing: this binary replaces the global operator new/delete with
// counting versions and checks the count across dse_session_generate_tokens.
#include <catch2/catch_test_macros.hpp>
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "dse/dse.h"
#include "tiny_model.h"

#if defined(DSE_TEST_HAS_CUDA)
#include <cuda_runtime.h>
#endif

namespace {
std::atomic<uint64_t> g_allocations{0};
}

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  ++g_allocations;
  return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void* operator new(std::size_t n, std::align_val_t a) {
  ++g_allocations;
  const std::size_t al = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  ++g_allocations;
  const std::size_t al = static_cast<std::size_t>(a);
  return std::aligned_alloc(al, (n + al - 1) / al * al);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

using namespace dse::test;

namespace {
int count_text(const char*, size_t length, void* user) {
  *static_cast<size_t*>(user) += length;
  return 0;
}
}  // namespace

TEST_CASE("generating tokens performs no heap allocation", "[allocation]") {
  TempFile f("alloc");
  REQUIRE(write_tiny_model(f.path(), random_model(9)).ok());
  dse_model* model = nullptr;
  REQUIRE(dse_model_open(f.str().c_str(), nullptr, &model) == DSE_OK);
  dse_session_options o = {};
  o.n_threads = 2;
  dse_session* session = nullptr;
  REQUIRE(dse_session_create(model, &o, &session) == DSE_OK);

  const char* stops[] = {"zzz"};
  std::vector<int32_t> out(64);
  dse_generate_params p = {};
  p.max_new_tokens = 20;
  p.temperature = 0.9f;
  p.top_k = 5;
  p.top_p = 0.9f;
  p.min_p = 0.01f;
  p.repetition_penalty = 1.1f;
  p.seed = 3;
  p.ignore_eos = 1;
  p.stop_strings = stops;
  p.n_stop_strings = 1;
  p.out_tokens = out.data();
  p.out_tokens_capacity = out.size();
  const int32_t prompt[] = {kBos, kA, kB, kSpace, kC, kD, kE, kAB, kA};  // three prefill chunks
  size_t text_bytes = 0;
  dse_generate_result r{};

  const uint64_t before = g_allocations.load();
  const dse_status first = dse_session_generate_tokens(session, prompt, 9, &p, count_text, &text_bytes, &r);
  const dse_status second = dse_session_generate_tokens(session, prompt, 3, &p, count_text, &text_bytes, &r);
  const uint64_t after = g_allocations.load();

  CHECK(first == DSE_OK);
  CHECK(second == DSE_OK);
  CHECK(r.generated_tokens == 20);
  CHECK(text_bytes > 0);
  CHECK(after - before == 0);

  // At a high temperature the byte vocabulary samples invalid UTF-8, which the streamer repairs
  // (U+FFFD) inside its reserved buffers.
  dse_generate_params hot = {};
  hot.max_new_tokens = 40;
  hot.temperature = 1.5f;
  hot.seed = 17;
  hot.ignore_eos = 1;
  const uint64_t before_hot = g_allocations.load();
  const dse_status third = dse_session_generate_tokens(session, prompt, 2, &hot, count_text, &text_bytes, &r);
  CHECK(third == DSE_OK);
  CHECK(g_allocations.load() - before_hot == 0);

  // The counter works: the session allocates at creation.
  dse_session* other = nullptr;
  const uint64_t before_create = g_allocations.load();
  REQUIRE(dse_session_create(model, &o, &other) == DSE_OK);
  CHECK(g_allocations.load() > before_create);
  dse_session_destroy(other);
  dse_session_destroy(session);
  dse_model_close(model);
}

namespace {
// Writes `spec` to `f`, opens it and creates a session; skips the test when the session cannot be
// created (no usable device for a GPU artifact).
dse_session* open_or_skip(const TempFile& f, const TinyModelSpec& spec, dse_model*& model) {
  REQUIRE(write_tiny_model(f.path(), spec).ok());
  REQUIRE(dse_model_open(f.str().c_str(), nullptr, &model) == DSE_OK);
  dse_session* session = nullptr;
  if (dse_session_create(model, nullptr, &session) != DSE_OK) {
    const std::string why = dse_last_error_message();
    dse_model_close(model);
    SKIP("no usable device: " + why);
  }
  return session;
}
}  // namespace

TEST_CASE("on a GPU, generating allocates nothing on the host or on the device", "[allocation][gpu]") {
#if !defined(DSE_TEST_HAS_CUDA)
  SKIP("built without DSE_ENABLE_CUDA");
#else
  TempFile f("alloc-gpu");
  TinyModelSpec spec = random_model(9);
  spec.backend = "cuda";
  dse_model* model = nullptr;
  dse_session* session = open_or_skip(f, spec, model);
  size_t free_before = 0, free_after = 0, total = 0;
  REQUIRE(cudaMemGetInfo(&free_before, &total) == cudaSuccess);

  const int32_t prompt[] = {kBos, kA, kB, kSpace, kC, kD, kE, kAB, kA};
  size_t text_bytes = 0;
  dse_generate_result r{};
  dse_generate_params greedy = {};  // argmax on the device
  greedy.max_new_tokens = 20;
  greedy.ignore_eos = 1;
  dse_generate_params hot = greedy;  // logits copied to the host, sampled there
  hot.temperature = 1.2f;
  hot.top_p = 0.9f;
  hot.repetition_penalty = 1.1f;
  hot.seed = 4;
  const uint64_t before = g_allocations.load();
  CHECK(dse_session_generate_tokens(session, prompt, 9, &greedy, count_text, &text_bytes, &r) == DSE_OK);
  CHECK(r.generated_tokens == 20);
  CHECK(dse_session_generate_tokens(session, prompt, 3, &hot, count_text, &text_bytes, &r) == DSE_OK);
  const float* logits = nullptr;
  CHECK(dse_session_forward(session, prompt, 2, &logits) == DSE_OK);
  CHECK(g_allocations.load() - before == 0);
  REQUIRE(cudaMemGetInfo(&free_after, &total) == cudaSuccess);
  CHECK(free_after == free_before);  // no device allocation either
  dse_session_destroy(session);
  dse_model_close(model);
#endif
}

namespace {
int count_batch_text(size_t, const char*, size_t length, void* user) {
  *static_cast<size_t*>(user) += length;
  return 0;
}

// Three prompts generated together, greedy and sampled with a penalty; checks the allocation
// count (and, with `device`, the free device memory) around the calls.
void check_batch_allocates_nothing(const char* stem, bool device) {
  TempFile f(stem);
  TinyModelSpec spec = random_model(11);
  spec.max_batch = 3;
  if (device) spec.backend = "cuda";
  dse_model* model = nullptr;
  dse_session* session = open_or_skip(f, spec, model);
  const int32_t a[] = {kBos, kA, kB, kSpace, kC, kD, kE, kAB, kA}, b[] = {kBos, kE}, c[] = {kBos, kC, kC, kD, kA};
  const int32_t* prompts[] = {a, b, c};
  const size_t lengths[] = {9, 2, 5};
  std::vector<int32_t> out(3 * 20);
  dse_generate_params greedy = {};
  greedy.max_new_tokens = 20;
  greedy.ignore_eos = 1;
  greedy.out_tokens = out.data();
  greedy.out_tokens_capacity = out.size();
  dse_generate_params hot = greedy;
  hot.temperature = 1.2f;
  hot.top_k = 40;
  hot.repetition_penalty = 1.1f;
  hot.seed = 4;
  dse_generate_result r[3] = {};
  size_t text_bytes = 0;
#if defined(DSE_TEST_HAS_CUDA)
  size_t free_before = 0, free_after = 0, total = 0;
  if (device) REQUIRE(cudaMemGetInfo(&free_before, &total) == cudaSuccess);
#endif
  const uint64_t before = g_allocations.load();
  CHECK(dse_session_generate_batch(session, prompts, lengths, 3, &greedy, count_batch_text, &text_bytes, r) == DSE_OK);
  CHECK(dse_session_generate_batch(session, prompts, lengths, 3, &hot, count_batch_text, &text_bytes, r) == DSE_OK);
  CHECK(g_allocations.load() - before == 0);
#if defined(DSE_TEST_HAS_CUDA)
  if (device) {
    REQUIRE(cudaMemGetInfo(&free_after, &total) == cudaSuccess);
    CHECK(free_after == free_before);
  }
#endif
  CHECK(r[2].generated_tokens == 20);
  CHECK(text_bytes > 0);
  dse_session_destroy(session);
  dse_model_close(model);
}
}  // namespace

TEST_CASE("batched generation performs no heap allocation", "[allocation][batch]") {
  check_batch_allocates_nothing("alloc-batch", false);
}

TEST_CASE("on a GPU, batched generation allocates nothing on the host or on the device", "[allocation][gpu][batch]") {
#if !defined(DSE_TEST_HAS_CUDA)
  SKIP("built without DSE_ENABLE_CUDA");
#else
  check_batch_allocates_nothing("alloc-batch-gpu", true);
#endif
}
