// Generation must be allocation-free: every kernel, run on a 4-thread pool, makes no heap
// allocation. Its own executable, because it replaces the global operator new to count calls.
#include <catch2/catch_test_macros.hpp>

#include <atomic>
#include <cstdlib>
#include <new>

#include "kernel_test_support.h"

namespace {
std::atomic<int64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

// Allocations made by one kernel run (after a warm-up run, which may fill static tables).
int64_t allocations_of(const std::string& name, const Call& call, StepInfo step, ThreadPool* pool) {
  const CpuKernelInfo& info = kernel(name);
  const Status valid = validate_cpu_call(info, call.get());
  INFO(name << ": " << valid.message());
  REQUIRE(valid.ok());
  const KernelCall kc = call.get();
  REQUIRE(info.fn(kc, step, pool).ok());
  const int64_t before = g_allocations.load();
  const bool ok = info.fn(kc, step, pool).ok();
  const int64_t after = g_allocations.load();
  REQUIRE(ok);
  return after - before;
}

}  // namespace

TEST_CASE("no kernel allocates on the heap when it runs", "[cpu][allocation]") {
  ThreadPool pool(4);
  std::mt19937 rng(1);
  const StepInfo prefill = step_of(4, 2);
  const int64_t t = 4, h = 64, s = 16;

  Tensor x = f32_tensor({t, h}, random_values(rng, size_t(t * h)));
  Tensor out(DType::f32, {t, h});
  for (WeightFormat f : kAllWeightFormats) {
    PackedWeight w = pack_weight_for_test(f, {h, h}, random_values(rng, size_t(h * h)), 32);
    Call mm;
    mm.operands = {x.view, w.weight.view};
    if (w.has_scales) mm.operands.push_back(w.scales.view);
    mm.operands.push_back(out.view);
    mm.iparams = {0};
    CHECK(allocations_of(format_kernel("matmul_f32_", f), mm, prefill, &pool) == 0);

    PackedWeight gu = pack_weight_for_test(f, {4, 64, h}, random_values(rng, size_t(4 * 64 * h)), 32);
    PackedWeight dn = pack_weight_for_test(f, {4, h, 32}, random_values(rng, size_t(4 * h * 32)), 32);
    Tensor ids = i32_tensor({t, 2}, {0, 1, 2, 3, 1, 2, 3, 0});
    Tensor rw = f32_tensor({t, 2}, random_values(rng, size_t(t * 2)));
    Call moe;
    moe.operands = {x.view, ids.view, rw.view, gu.weight.view};
    if (gu.has_scales) moe.operands.push_back(gu.scales.view);
    moe.operands.push_back(dn.weight.view);
    if (dn.has_scales) moe.operands.push_back(dn.scales.view);
    moe.operands.push_back(out.view);
    moe.iparams = {4, 2, 32, h};
    CHECK(allocations_of(format_kernel("moe_ffn_f32_", f), moe, prefill, &pool) == 0);
  }

  Tensor w = f32_tensor({h}, random_values(rng, size_t(h)));
  Call norm;
  norm.operands = {x.view, w.view, out.view};
  norm.fparams = {1e-6f};
  CHECK(allocations_of("rms_norm_f32", norm, prefill, &pool) == 0);

  Call add;
  add.operands = {x.view, x.view, out.view};
  CHECK(allocations_of("add_f32", add, prefill, &pool) == 0);

  Tensor half(DType::f32, {t, h / 2});
  Call silu;
  silu.operands = {x.view, half.view};
  CHECK(allocations_of("silu_mul_f32", silu, prefill, &pool) == 0);

  Tensor last(DType::f32, {1, h});
  Call lr;
  lr.operands = {x.view, last.view};
  CHECK(allocations_of("last_row_f32", lr, prefill, &pool) == 0);

  for (DType tdt : {DType::f16, DType::bf16}) {
    PackedWeight table = pack_weight_for_test(tdt == DType::f16 ? WeightFormat::f16 : WeightFormat::bf16, {10, h},
                                              random_values(rng, size_t(10 * h)));
    Tensor tokens = i32_tensor({t}, {1, 2, 3, 9});
    Call emb;
    emb.operands = {tokens.view, table.weight.view, out.view};
    CHECK(allocations_of(tdt == DType::f16 ? "embed_f32_f16" : "embed_f32_bf16", emb, prefill, &pool) == 0);
  }

  Tensor rope_table = f32_tensor({s, 16}, random_values(rng, size_t(s * 16)));
  Tensor rx = f32_tensor({t, h}, random_values(rng, size_t(t * h)));
  Call rope;
  rope.operands = {rx.view, rope_table.view};
  rope.iparams = {4, 16, 0, 16, 1};
  CHECK(allocations_of("rope_f32", rope, prefill, &pool) == 0);

  Tensor kc(DType::f16, {s, h}), vc(DType::f32, {s, h});
  Call store;
  store.operands = {x.view, kc.view};
  CHECK(allocations_of("kv_store", store, prefill, &pool) == 0);

  Call attn;
  attn.operands = {x.view, kc.view, vc.view, out.view};
  attn.iparams = {4, 4, 16, 16};
  attn.fparams = {0.25f};
  CHECK(allocations_of("attention_f32", attn, prefill, &pool) == 0);

  Tensor q = f32_tensor({t, 4 * 24}, random_values(rng, size_t(t * 4 * 24)));
  Tensor lat = f32_tensor({s, 32}, random_values(rng, size_t(s * 32)));
  Tensor pe(DType::f16, {s, 8});
  Tensor uk = f32_tensor({4, 16, 32}, random_values(rng, size_t(4 * 16 * 32)));
  Tensor uv = f32_tensor({4, 16, 32}, random_values(rng, size_t(4 * 16 * 32)));
  Call mla;
  mla.operands = {q.view, lat.view, pe.view, uk.view, uv.view, out.view};
  mla.iparams = {4, 16, 8, 32, 16};
  mla.fparams = {0.1f};
  CHECK(allocations_of("mla_attention_f32", mla, prefill, &pool) == 0);

  Tensor logits = f32_tensor({t, 16}, random_values(rng, size_t(t * 16)));
  Tensor bias = f32_tensor({16}, random_values(rng, 16));
  Tensor ids(DType::i32, {t, 4}), wts(DType::f32, {t, 4});
  Call route;
  route.operands = {logits.view, bias.view, ids.view, wts.view};
  route.iparams = {4, 4, 2, 1, 2, 1, 1};
  route.fparams = {2.5f};
  CHECK(allocations_of("moe_route_f32", route, prefill, &pool) == 0);
}

TEST_CASE("validating a well-formed call allocates nothing", "[cpu][allocation]") {
  Tensor x(DType::f32, {2, 64}), w(DType::i4, {8, 64}, 32), s(DType::f16, {8, 2}), out(DType::f32, {2, 8});
  Call mm;
  mm.operands = {x.view, w.view, s.view, out.view};
  mm.iparams = {0};
  const KernelCall kc = mm.get();
  const CpuKernelInfo& info = kernel("matmul_f32_w4");
  const int64_t before = g_allocations.load();
  const bool ok = validate_cpu_call(info, kc).ok();
  const int64_t after = g_allocations.load();
  CHECK(ok);
  CHECK(after - before == 0);
}
