// embed, rms_norm, add, silu_mul, last_row, rope and kv_store on the GPU against the CPU kernels.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cmath>

#include "gpu_test_support.h"

namespace dse::gpu::test {

TEST_CASE("GPU embedding copies the same rows as the CPU kernel for f32, f16 and bf16 tables", "[gpu][embed]") {
  const DType dt = GENERATE(DType::f32, DType::f16, DType::bf16);
  const int64_t hidden = GENERATE(37, 64);
  std::mt19937 rng(1);
  Case c;
  c.kernel = dt == DType::f32 ? "embed_f32_f32" : (dt == DType::f16 ? "embed_f32_f16" : "embed_f32_bf16");
  c.ops.push_back(i32_tensor({8}, {3, 0, 49, 7, 7, 12, 1, 2}));
  c.ops.push_back(dense_weight(dt, {50, hidden}, rng));
  c.ops.push_back(sentinel_f32({8, hidden}));
  c.step = {7, 0};
  const Outcome o = run_both(c);
  REQUIRE(o.gpu_status.ok());
  CHECK(same_bytes(o, 2));
}

TEST_CASE("GPU embedding reports a token id outside the vocabulary and writes no row", "[gpu][embed]") {
  std::mt19937 rng(2);
  Case c;
  c.kernel = "embed_f32_f16";
  c.ops.push_back(i32_tensor({4}, {3, 50, 1, 2}));
  c.ops.push_back(dense_weight(DType::f16, {50, 16}, rng));
  c.ops.push_back(sentinel_f32({4, 16}));
  c.step = {4, 0};
  const Outcome o = run_both(c);
  CHECK(o.cpu_status.code() == StatusCode::out_of_range);
  CHECK(o.gpu_status.code() == StatusCode::out_of_range);
  CHECK(same_bytes(o, 2));
}

TEST_CASE("GPU RMSNorm matches the CPU kernel, also in place", "[gpu][norm]") {
  const int64_t hidden = GENERATE(37, 4096, 16388);  // 16388: more than the row cached in registers
  const bool in_place = GENERATE(false, true);
  std::mt19937 rng(3);
  Case c;
  c.kernel = "rms_norm_f32";
  c.ops.push_back(f32_tensor({8, hidden}, rng, -2.0f, 2.0f));
  c.ops.push_back(f32_tensor({hidden}, rng));
  Operand out = sentinel_f32({8, hidden});
  if (in_place) out.alias_of = 0;
  c.ops.push_back(out);
  c.fparams = {1e-6f};
  c.step = {7, 0};
  const Outcome o = run_both(c);
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 2, 1e-6) == 0);
}

TEST_CASE("GPU add and silu_mul match the CPU kernels", "[gpu][elementwise]") {
  const int64_t width = GENERATE(37, 1024);
  std::mt19937 rng(4);
  {
    Case c;
    c.kernel = "add_f32";
    c.ops.push_back(f32_tensor({8, width}, rng));
    c.ops.push_back(f32_tensor({8, width}, rng));
    Operand out = sentinel_f32({8, width});
    out.alias_of = 0;
    c.ops.push_back(out);
    c.step = {7, 0};
    const Outcome o = run_both(c);
    CHECK(same_bytes(o, 2));
  }
  {
    Case c;
    c.kernel = "silu_mul_f32";
    c.ops.push_back(f32_tensor({8, 2 * width}, rng, -6.0f, 6.0f));
    c.ops.push_back(sentinel_f32({8, width}));
    c.step = {7, 0};
    const Outcome o = run_both(c);
    CHECK(compare_f32(o, 1, 1e-6) == 0);
  }
}

TEST_CASE("GPU last_row copies the call's last token and reports a call with no tokens", "[gpu][elementwise]") {
  std::mt19937 rng(5);
  const int64_t tokens = GENERATE(0, 1, 5);
  Case c;
  c.kernel = "last_row_f32";
  c.ops.push_back(f32_tensor({8, 100}, rng));
  c.ops.push_back(sentinel_f32({1, 100}));
  c.step = {tokens, 0};
  const Outcome o = run_both(c);
  CHECK(o.gpu_status.code() == o.cpu_status.code());
  CHECK(same_bytes(o, 1));
}

TEST_CASE("GPU RoPE matches the CPU kernel for rotate-half and interleaved pairs", "[gpu][rope]") {
  const int64_t interleaved = GENERATE(0, 1);
  const int64_t rot_offset = GENERATE(0, 8);
  const int64_t tokens = GENERATE(1, 7);
  std::mt19937 rng(6);
  Case c;
  c.kernel = "rope_f32";
  const int64_t heads = 3, head_dim = 24, rot_dim = 16;
  c.ops.push_back(f32_tensor({8, heads * head_dim}, rng));
  c.ops.push_back(f32_tensor({20, rot_dim}, rng));
  c.iparams = {heads, head_dim, rot_offset, rot_dim, interleaved};
  c.step = {tokens, 5};
  const Outcome o = run_both(c);
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, 0, 1e-6) == 0);
}

TEST_CASE("GPU RoPE reports a position past the table and rotates nothing", "[gpu][rope]") {
  std::mt19937 rng(7);
  Case c;
  c.kernel = "rope_f32";
  c.ops.push_back(f32_tensor({8, 32}, rng));
  c.ops.push_back(f32_tensor({10, 16}, rng));
  c.iparams = {2, 16, 0, 16, 0};
  c.step = {4, 8};
  const Outcome o = run_both(c);
  check_refused_alike(o, StatusCode::out_of_range);
  CHECK(same_bytes(o, 0));
}

TEST_CASE("GPU kv_store writes the same cache bytes as the CPU kernel for f32 and f16 caches", "[gpu][kv_store]") {
  const DType dt = GENERATE(DType::f32, DType::f16);
  const int64_t tokens = GENERATE(1, 7);
  std::mt19937 rng(8);
  Case c;
  c.kernel = "kv_store";
  c.ops.push_back(f32_tensor({8, 37}, rng, -70000.0f, 70000.0f));  // f16 overflow and rounding
  c.ops.push_back(cache_tensor(dt, {20, 37}, rng));
  c.step = {tokens, 3};
  const Outcome o = run_both(c);
  REQUIRE(o.gpu_status.ok());
  CHECK(same_bytes(o, 1));
}

// Quantized caches: the GPU quantizes with the same operations as the CPU (kv_quant.h), so cache
// bytes and scales are bit-identical; values span f32 magnitudes from 1e-30 (fp8 subnormals after
// scaling) to 1e4.
TEST_CASE("GPU kv_store writes the same quantized bytes and scales as the CPU kernel", "[gpu][kv_store][kv_quant]") {
  const DType dt = GENERATE(DType::i8, DType::fp8e4m3);
  const int64_t groups = GENERATE(1, 4);
  const int64_t tokens = GENERATE(1, 7);
  std::mt19937 rng(18);
  Case c;
  c.kernel = "kv_store";
  Operand src = f32_tensor({8, 4 * 37}, rng, -1.0f, 1.0f);
  std::uniform_real_distribution<float> exponent(-30.0f, 4.0f);
  for (float& v : src.as<float>()) v *= std::pow(10.0f, exponent(rng));
  for (int64_t i = 0; i < 37; ++i) src.as<float>()[size_t(4 * 37 + i)] = 0.0f;  // an all-zero group
  c.ops.push_back(src);
  for (Operand& o : any_cache(dt, {20, 4 * 37}, groups, rng)) c.ops.push_back(o);
  c.step = {tokens, 3};
  const Outcome o = run_both(c);
  REQUIRE(o.gpu_status.ok());
  CHECK(same_bytes(o, 1));
  CHECK(same_bytes(o, 2));
}

TEST_CASE("GPU kv_store reports a position past the cache and writes nothing", "[gpu][kv_store]") {
  std::mt19937 rng(9);
  Case c;
  c.kernel = "kv_store";
  c.ops.push_back(f32_tensor({8, 16}, rng));
  c.ops.push_back(cache_tensor(DType::f16, {10, 16}, rng));
  c.step = {3, 8};
  const Outcome o = run_both(c);
  CHECK(o.gpu_status.code() == StatusCode::out_of_range);
  CHECK(o.gpu_status.message() == o.cpu_status.message());
  CHECK(same_bytes(o, 1));
}

}  // namespace dse::gpu::test
