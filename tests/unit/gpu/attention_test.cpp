// attention_f32 and mla_attention_f32 on the GPU (flash-decoding) against the CPU kernels.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cmath>
#include <cstdlib>

#include "gpu_test_support.h"

namespace dse::gpu::test {
namespace {

struct AttnShape {
  int64_t t_cap, n_tokens, start, s, hq, hkv, d, dv;
  DType k_dtype, v_dtype;
};

Case attention_case(const AttnShape& a, std::mt19937& rng) {
  Case c;
  c.kernel = "attention_f32";
  c.ops.push_back(f32_tensor({a.t_cap, a.hq * a.d}, rng));
  // Quantized caches bring their [S, Hkv] scale operand right after them.
  for (Operand& o : any_cache(a.k_dtype, {a.s, a.hkv * a.d}, a.hkv, rng)) c.ops.push_back(o);
  for (Operand& o : any_cache(a.v_dtype, {a.s, a.hkv * a.dv}, a.hkv, rng)) c.ops.push_back(o);
  c.ops.push_back(sentinel_f32({a.t_cap, a.hq * a.dv}));
  c.iparams = {a.hq, a.hkv, a.d, a.dv};
  c.fparams = {float(1.0 / std::sqrt(double(a.d)))};
  c.step = {a.n_tokens, a.start};
  return c;
}

struct MlaShape {
  int64_t t_cap, n_tokens, start, s, h, dn, dr, c, dv;
  DType cache_dtype, pe_dtype, w_dtype;
};

Case mla_case(const MlaShape& m, std::mt19937& rng) {
  Case c;
  c.kernel = "mla_attention_f32";
  c.ops.push_back(f32_tensor({m.t_cap, m.h * (m.dn + m.dr)}, rng));
  for (Operand& o : any_cache(m.cache_dtype, {m.s, m.c}, 1, rng)) c.ops.push_back(o);
  for (Operand& o : any_cache(m.pe_dtype, {m.s, m.dr}, 1, rng)) c.ops.push_back(o);
  c.ops.push_back(dense_weight(m.w_dtype, {m.h, m.dn, m.c}, rng, 0.1f));
  c.ops.push_back(dense_weight(m.w_dtype, {m.h, m.dv, m.c}, rng, 0.1f));
  c.ops.push_back(sentinel_f32({m.t_cap, m.h * m.dv}));
  c.iparams = {m.h, m.dn, m.dr, m.c, m.dv};
  c.fparams = {float(1.0 / std::sqrt(double(m.dn + m.dr)))};
  c.step = {m.n_tokens, m.start};
  return c;
}

}  // namespace

TEST_CASE("GPU attention matches the CPU kernel for decode and prefill, GQA and MHA, f32 and f16 caches",
          "[gpu][attention]") {
  const DType kd = GENERATE(DType::f32, DType::f16);
  const DType vd = GENERATE(DType::f32, DType::f16);
  // Caches of 1000 and 2000 rows are cut into several chunks: positions cross chunk boundaries.
  const AttnShape s = GENERATE(AttnShape{1, 1, 0, 16, 4, 2, 64, 64, DType::f32, DType::f32},
                               AttnShape{1, 1, 700, 1000, 8, 2, 128, 128, DType::f32, DType::f32},
                               AttnShape{1, 1, 1999, 2000, 4, 4, 96, 64, DType::f32, DType::f32},
                               AttnShape{8, 7, 0, 40, 6, 3, 32, 48, DType::f32, DType::f32},
                               AttnShape{8, 7, 500, 1000, 4, 1, 128, 128, DType::f32, DType::f32},
                               AttnShape{7, 7, 3, 300, 2, 2, 16, 16, DType::f32, DType::f32});
  AttnShape a = s;
  a.k_dtype = kd;
  a.v_dtype = vd;
  std::mt19937 rng(uint32_t(a.s * 7 + a.start));
  const Case c = attention_case(a, rng);
  INFO("T " << a.n_tokens << "/" << a.t_cap << " start " << a.start << " S " << a.s << " Hq " << a.hq << " Hkv "
            << a.hkv << " D " << a.d << " Dv " << a.dv);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 3, 1e-4, 1e-6) == 0);
}

// The one-pass prefill kernel on CUDA cores (attention_prefill.cuh), on for this test and the
// tensor-core kernel off: chunks of one sequence at consecutive positions, rows that fill some
// blocks only partly, positions that cross key tiles, the second slot of a two-slot cache, GQA
// and MHA, f32 and f16 caches.
TEST_CASE("GPU prefill attention (one pass, DSE_GPU_FLASH_PREFILL=1) matches the CPU kernel", "[gpu][attention]") {
  const DType cache = GENERATE(DType::f32, DType::f16);
  const AttnShape s = GENERATE(AttnShape{64, 64, 0, 128, 4, 2, 64, 64, DType::f32, DType::f32},
                               AttnShape{64, 37, 5, 256, 12, 2, 128, 128, DType::f32, DType::f32},
                               AttnShape{128, 100, 300, 512, 8, 8, 128, 96, DType::f32, DType::f32},
                               AttnShape{16, 16, 17, 64, 2, 1, 32, 32, DType::f32, DType::f32});
  const int64_t slot = GENERATE(0, 1);
  AttnShape a = s;
  a.k_dtype = cache;
  a.v_dtype = cache;
  a.s = s.s * 2;  // two slots of s.s rows
  std::mt19937 rng(uint32_t(a.s * 13 + a.start + slot));
  Case c = attention_case(a, rng);
  c.step.slot = slot;
  c.step.slots = 2;
  c.one_sequence = true;
  INFO("T " << a.n_tokens << "/" << a.t_cap << " start " << a.start << " slot " << slot << " Hq " << a.hq << " Hkv "
            << a.hkv << " D " << a.d << " Dv " << a.dv << " cache " << cpu::dtype_name(cache));
  const Outcome o = [&] {
    const EnvScope flash("DSE_GPU_FLASH_PREFILL", "1"), cuda_cores("DSE_GPU_TC_PREFILL", "0");
    return run_both(c);
  }();
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 3, 1e-4, 1e-6) == 0);
}

// The tensor-core prefill kernel (attention_prefill_tc.cuh, the default for f16 caches with head
// dims 64 or 128): chunks that fill their last 64-row block only partly, contexts that start
// mid-tile (start > 0: the diagonal crosses key tiles), a context of one tile, the second slot of
// a two-slot cache, GQA and MHA. Q and the softmax weights are rounded to f16 before their
// products: errors of a few 2^-11 relative to the outputs' size.
TEST_CASE("GPU prefill attention on tensor cores matches the CPU kernel within f16 rounding", "[gpu][attention]") {
  const AttnShape s = GENERATE(AttnShape{64, 64, 0, 128, 4, 2, 64, 64, DType::f16, DType::f16},
                               AttnShape{512, 512, 0, 512, 12, 2, 128, 128, DType::f16, DType::f16},
                               AttnShape{256, 200, 37, 512, 8, 8, 128, 128, DType::f16, DType::f16},
                               AttnShape{128, 100, 300, 512, 4, 1, 64, 64, DType::f16, DType::f16},
                               AttnShape{64, 9, 0, 64, 2, 2, 128, 128, DType::f16, DType::f16});
  const int64_t slot = GENERATE(0, 1);
  AttnShape a = s;
  a.s = s.s * 2;  // two slots of s.s rows
  std::mt19937 rng(uint32_t(a.s * 17 + a.start + slot + a.hq));
  Case c = attention_case(a, rng);
  c.step.slot = slot;
  c.step.slots = 2;
  c.one_sequence = true;
  INFO("T " << a.n_tokens << "/" << a.t_cap << " start " << a.start << " slot " << slot << " Hq " << a.hq << " Hkv "
            << a.hkv << " D " << a.d);
  unsetenv("DSE_GPU_TC_PREFILL");
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 3, 3e-3, 1e-5) == 0);
}

TEST_CASE("GPU prefill attention (one pass) reports a position past the slot and writes nothing",
          "[gpu][attention]") {
  // Head dim 16: the CUDA-core kernel; 64: the tensor-core kernel.
  const int64_t d = GENERATE(16, 64);
  std::mt19937 rng(5);
  Case c = attention_case(AttnShape{32, 20, 50, 64, 2, 1, d, d, DType::f16, DType::f16}, rng);
  c.one_sequence = true;
  const Outcome o = [&] {
    const EnvScope flash("DSE_GPU_FLASH_PREFILL", "1");
    return run_both(c);
  }();
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(same_bytes(o, 3));
}

// I8 / FP8E4M3 caches with one scale per (position, KV head): the GPU reads the same bytes and
// scales as the CPU kernel, so the outputs agree to the F32 tolerance.
TEST_CASE("GPU attention matches the CPU kernel for I8 and FP8 caches", "[gpu][attention][kv_quant]") {
  const DType kd = GENERATE(DType::i8, DType::fp8e4m3, DType::f16);
  const DType vd = GENERATE(DType::i8, DType::fp8e4m3);
  const AttnShape s = GENERATE(AttnShape{1, 1, 700, 1000, 8, 2, 128, 128, DType::f32, DType::f32},
                               AttnShape{8, 7, 0, 40, 6, 3, 32, 48, DType::f32, DType::f32},
                               AttnShape{8, 7, 500, 1000, 4, 1, 128, 128, DType::f32, DType::f32});
  AttnShape a = s;
  a.k_dtype = kd;
  a.v_dtype = vd;
  std::mt19937 rng(uint32_t(a.s * 11 + a.start));
  const Case c = attention_case(a, rng);
  INFO("T " << a.n_tokens << "/" << a.t_cap << " start " << a.start << " S " << a.s << " Hq " << a.hq << " Hkv "
            << a.hkv << " k " << cpu::dtype_name(kd) << " v " << cpu::dtype_name(vd));
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, 1e-4, 1e-6) == 0);
}

TEST_CASE("GPU attention reports a position past the cache and writes nothing", "[gpu][attention]") {
  std::mt19937 rng(3);
  const Case c = attention_case(AttnShape{8, 4, 30, 32, 2, 1, 16, 16, DType::f32, DType::f16}, rng);
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(same_bytes(o, 3));
}

TEST_CASE("GPU MLA attention (absorbed) matches the CPU kernel", "[gpu][mla]") {
  const DType wd = GENERATE(DType::f32, DType::f16, DType::bf16);
  const DType cd = GENERATE(DType::f32, DType::f16);
  const MlaShape s = GENERATE(MlaShape{1, 1, 0, 8, 2, 16, 8, 64, 16, DType::f32, DType::f32, DType::f32},
                              MlaShape{1, 1, 600, 700, 4, 128, 64, 512, 128, DType::f32, DType::f32, DType::f32},
                              MlaShape{8, 7, 250, 600, 3, 32, 16, 96, 24, DType::f32, DType::f32, DType::f32},
                              MlaShape{7, 7, 0, 20, 2, 16, 8, 40, 16, DType::f32, DType::f32, DType::f32},
                              // Prefill-sized capacities: the projections take 8 tokens per block
                              // (a last block partly past the step's rows, one past the capacity).
                              MlaShape{20, 19, 3, 40, 2, 16, 8, 64, 16, DType::f32, DType::f32, DType::f32},
                              MlaShape{64, 37, 100, 200, 4, 128, 64, 512, 128, DType::f32, DType::f32, DType::f32},
                              // C = 36: the projection kernel's 2-byte path (C % 8 != 0).
                              MlaShape{1, 1, 5, 20, 2, 16, 8, 36, 16, DType::f32, DType::f32, DType::f32},
                              MlaShape{16, 13, 5, 40, 2, 16, 8, 36, 16, DType::f32, DType::f32, DType::f32});
  MlaShape m = s;
  m.w_dtype = wd;
  m.cache_dtype = cd;
  m.pe_dtype = cd == DType::f16 ? DType::f32 : DType::f16;  // mixed cache dtypes are allowed
  std::mt19937 rng(uint32_t(m.s + m.c));
  const Case c = mla_case(m, rng);
  INFO("T " << m.n_tokens << "/" << m.t_cap << " start " << m.start << " S " << m.s << " H " << m.h << " C " << m.c);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 5, 2e-4, 1e-6) == 0);
}

// f16 latent and rope caches (the default KV dtype) take the staged decode kernel
// (attention_decode.cuh): the latent tile serves as keys and values, chunks of 64 positions span
// two tiles of 32 keys at C = 512; C = 96 (12 value vectors, not a power of two) keeps the split
// kernel. Several rows, the second slot of a two-slot cache.
TEST_CASE("GPU MLA attention over f16 latent and rope caches matches the CPU kernel", "[gpu][mla]") {
  const MlaShape s = GENERATE(MlaShape{1, 1, 600, 700, 16, 128, 64, 512, 128, DType::f16, DType::f16, DType::bf16},
                              MlaShape{8, 7, 250, 600, 3, 32, 16, 128, 24, DType::f16, DType::f16, DType::bf16},
                              MlaShape{8, 7, 250, 600, 3, 32, 16, 96, 24, DType::f16, DType::f16, DType::bf16},
                              MlaShape{1, 1, 0, 8, 2, 16, 8, 64, 16, DType::f16, DType::f16, DType::f32});
  const int64_t slot = GENERATE(0, 1);
  MlaShape m = s;
  m.s = s.s * 2;  // two slots of s.s rows
  std::mt19937 rng(uint32_t(m.s + m.c + 9 + slot));
  Case c = mla_case(m, rng);
  c.step.slot = slot;
  c.step.slots = 2;
  INFO("T " << m.n_tokens << "/" << m.t_cap << " start " << m.start << " S " << m.s << " H " << m.h << " C " << m.c
            << " slot " << slot);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 5, 2e-4, 1e-6) == 0);
}

// Prefill steps (one sequence, f16 caches, C = 512, dr = 64) take the tensor-core kernel
// (mla_prefill_tc.cuh) between the absorption and the projection, unless DSE_GPU_TC_MLA=0:
// V2-Lite's 16 heads with a full chunk and with a partial one that starts mid-tile; 3 heads (a
// warp's 16 rows span several tokens); the second slot of a two-slot cache. Q and the softmax
// weights are rounded to f16: errors of a few 2^-11 relative to the outputs' size.
TEST_CASE("GPU MLA prefill attention on tensor cores matches the CPU kernel within f16 rounding", "[gpu][mla]") {
  const MlaShape s = GENERATE(MlaShape{64, 64, 0, 128, 16, 128, 64, 512, 128, DType::f16, DType::f16, DType::bf16},
                              MlaShape{100, 77, 30, 256, 16, 128, 64, 512, 128, DType::f16, DType::f16, DType::bf16},
                              MlaShape{16, 9, 0, 64, 3, 32, 64, 512, 24, DType::f16, DType::f16, DType::f16});
  const int64_t slot = GENERATE(0, 1);
  MlaShape m = s;
  m.s = s.s * 2;  // two slots of s.s rows
  std::mt19937 rng(uint32_t(m.s + m.t_cap + 31 + slot));
  Case c = mla_case(m, rng);
  c.step.slot = slot;
  c.step.slots = 2;
  c.one_sequence = true;
  INFO("T " << m.n_tokens << "/" << m.t_cap << " start " << m.start << " H " << m.h << " slot " << slot);
  unsetenv("DSE_GPU_TC_MLA");
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 5, 3e-3, 1e-5) == 0);
}

TEST_CASE("GPU MLA attention matches the CPU kernel for I8 and FP8 latent and rope caches", "[gpu][mla][kv_quant]") {
  const DType cd = GENERATE(DType::i8, DType::fp8e4m3);
  const DType pd = GENERATE(DType::i8, DType::fp8e4m3, DType::f32);
  const MlaShape s = GENERATE(MlaShape{1, 1, 600, 700, 4, 128, 64, 512, 128, DType::f32, DType::f32, DType::f32},
                              MlaShape{8, 7, 250, 600, 3, 32, 16, 96, 24, DType::f32, DType::f32, DType::f32});
  MlaShape m = s;
  m.w_dtype = DType::bf16;
  m.cache_dtype = cd;
  m.pe_dtype = pd;
  std::mt19937 rng(uint32_t(m.s + m.c + 5));
  const Case c = mla_case(m, rng);
  INFO("T " << m.n_tokens << "/" << m.t_cap << " start " << m.start << " S " << m.s << " C " << m.c << " latent "
            << cpu::dtype_name(cd) << " pe " << cpu::dtype_name(pd));
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, 2e-4, 1e-6) == 0);
}

TEST_CASE("GPU MLA attention reports a position past the latent cache and writes nothing", "[gpu][mla]") {
  std::mt19937 rng(4);
  const Case c = mla_case(MlaShape{1, 1, 8, 8, 2, 16, 8, 64, 16, DType::f16, DType::f16, DType::bf16}, rng);
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(same_bytes(o, 5));
}

TEST_CASE("GPU MLA prefill on tensor cores reports a position past the slot and writes nothing", "[gpu][mla]") {
  std::mt19937 rng(6);
  Case c = mla_case(MlaShape{32, 20, 50, 64, 2, 16, 64, 512, 16, DType::f16, DType::f16, DType::bf16}, rng);
  c.one_sequence = true;
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(same_bytes(o, 5));
}

}  // namespace dse::gpu::test
