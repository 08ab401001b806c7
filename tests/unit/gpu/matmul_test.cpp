// matmul_f32_<w> on the GPU against the CPU kernel, every weight format, decode and prefill shapes.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cstdlib>
#include <string>

#include "gpu_test_support.h"

namespace dse::gpu::test {
namespace {

using cpu::WeightFormat;

struct MatmulShape {
  int64_t t_cap, n_tokens, n, k;
  int32_t group;
  bool bias;
};

Case matmul_case(WeightFormat f, const MatmulShape& s, std::mt19937& rng) {
  Case c;
  c.kernel = "matmul_f32_" + std::string(cpu::weight_format_name(f));
  c.ops.push_back(f32_tensor({s.t_cap, s.k}, rng));
  for (Operand& w : packed_weight(f, {s.n, s.k}, s.group, rng, 0.05f)) c.ops.push_back(std::move(w));
  if (s.bias) c.ops.push_back(f32_tensor({s.n}, rng));
  c.ops.push_back(sentinel_f32({s.t_cap, s.n}));
  c.iparams = {s.bias ? 1 : 0};
  c.step = {s.n_tokens, 0};
  return c;
}

// Prefill chunks (a token capacity of 64 or more) run on tensor cores with f16 inputs, and int4
// decode GEMVs in packed f16 arithmetic (gemv_w4_half.cuh): x (and the dequantized weights) are
// rounded to f16 (11 significant bits), so the error is a few units of 2^-11 relative to the size
// of the outputs, not f32 rounding.
constexpr double kF16InputsRtol = 4e-3;
// The int4 GEMV also sums in f16, products n * x of the unsigned codes with the offset 8 taken
// off once per 8 weights: its sums carry the offset's share in between, so they round at about
// twice the magnitude of sums with the offset taken off every pair (gemv_w4_half.cuh;
// scripts/w4-half-error-sim.py: 1.1e-3 of the outputs' rms against 5.6e-4). On an H200 the largest error of these cases was 5.8e-3 (the
// outlier case below; under 4e-3 before); a dequantization off by one code, or products flushed
// to zero, are off by far more (the outlier case: 3e-2).
constexpr double kW4GemvRtol = 8e-3;

double f16_inputs_rtol(WeightFormat f, const MatmulShape& s) {
  return f == WeightFormat::w4 && s.t_cap == 1 ? kW4GemvRtol : kF16InputsRtol;
}

void check_f16_inputs(WeightFormat f, const MatmulShape& s, uint32_t seed, float x_scale = 1.0f) {
  std::mt19937 rng(seed);
  Case c = matmul_case(f, s, rng);
  if (x_scale != 1.0f) {
    float* x = reinterpret_cast<float*>(c.ops[0].bytes.data());
    for (size_t i = 0; i < c.ops[0].bytes.size() / 4; ++i) x[i] *= x_scale;
  }
  INFO(c.kernel << " f16 inputs T " << s.n_tokens << "/" << s.t_cap << " N " << s.n << " K " << s.k << " group "
                << s.group << " bias " << s.bias << " x scale " << x_scale);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, f16_inputs_rtol(f, s), 1e-6) == 0);
}

void check(WeightFormat f, const MatmulShape& s, uint32_t seed) {
  // int4 at decode on the 16-byte path (groups of 32s) takes the packed f16 kernel.
  if (f == WeightFormat::w4 && s.t_cap == 1 && s.group % 32 == 0 && s.k % 32 == 0) {
    check_f16_inputs(f, s, seed);
    return;
  }
  std::mt19937 rng(seed);
  const Case c = matmul_case(f, s, rng);
  INFO(c.kernel << " T " << s.n_tokens << "/" << s.t_cap << " N " << s.n << " K " << s.k << " group " << s.group
                << " bias " << s.bias);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  // Both sides dequantize exactly and accumulate in f32; only the order of the sums differs.
  CHECK(compare_f32(o, int(c.ops.size()) - 1, 2e-5, 1e-6) == 0);
}

}  // namespace

TEST_CASE("GPU matmul matches the CPU kernel for every weight format at decode (one token)", "[gpu][matmul]") {
  const WeightFormat f = GENERATE(WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16, WeightFormat::w8,
                                  WeightFormat::w4, WeightFormat::fp8);
  const int32_t group = GENERATE(32, 128);
  const MatmulShape s = GENERATE(MatmulShape{1, 1, 1, 256, 0, false}, MatmulShape{1, 1, 37, 128, 0, true},
                                 MatmulShape{1, 1, 1000, 384, 0, false}, MatmulShape{1, 1, 4096, 4096, 0, false},
                                 MatmulShape{1, 1, 130, 1024 + 128, 0, true}, MatmulShape{1, 1, 8448, 256, 0, true},
                                 MatmulShape{1, 1, 40000, 512, 0, false});
  // N decides the rows per warp at decode (1, 2 or 4: see matmul.cu; the int4 GEMV takes two rows
  // per task whatever N, one under DSE_GPU_W4_ROWS=1, tested below); these shapes cover all three
  // on a 132-multiprocessor H100. The int4 GEMV is a persistent grid: 40000 rows give each of its
  // warps several row groups in turn, 4096 x 4096 several chunks of a row.
  MatmulShape sg = s;
  sg.group = group;
  check(f, sg, 1234u + uint32_t(sg.n));
}

TEST_CASE("GPU matmul matches the CPU kernel for 7 tokens in a capacity of 8 and for 8 tokens", "[gpu][matmul]") {
  const WeightFormat f = GENERATE(WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16, WeightFormat::w8,
                                  WeightFormat::w4, WeightFormat::fp8);
  const int32_t group = GENERATE(32, 128);
  const int64_t tokens = GENERATE(7, 8);
  check(f, MatmulShape{8, tokens, 77, 512, group, true}, 99u + uint32_t(tokens));
  check(f, MatmulShape{8, tokens, 5, 256, group, false}, 7u);
}

// Prefill chunks with f32 weights (a MoE router: 64 rows) take the GEMV, its tokens cut into
// slices across the grid: slices of one or several 8-token passes, a last slice partly filled,
// and blocks whose whole slice lies past the step's tokens; the scalar path (K = 102) too.
TEST_CASE("GPU matmul on f32 weights splits a prefill chunk's tokens across blocks", "[gpu][matmul]") {
  const MatmulShape s = GENERATE(MatmulShape{512, 512, 64, 2048, 0, false}, MatmulShape{512, 301, 64, 256, 0, true},
                                 MatmulShape{100, 97, 6, 512, 0, false}, MatmulShape{64, 5, 160, 128, 0, true},
                                 MatmulShape{256, 200, 33, 102, 0, false});
  check(WeightFormat::f32, s, 31u + uint32_t(s.n_tokens));
}

TEST_CASE("GPU matmul takes the scalar path when K is not a multiple of the 16-byte vector", "[gpu][matmul]") {
  // f32 K = 102 (x rows not 16-byte aligned), f16/bf16 K = 36, w8/fp8 K = 40, w4 group 16.
  check(WeightFormat::f32, MatmulShape{1, 1, 33, 102, 0, true}, 1u);
  check(WeightFormat::f32, MatmulShape{8, 7, 33, 102, 0, false}, 2u);
  check(WeightFormat::f16, MatmulShape{1, 1, 19, 36, 0, false}, 3u);
  check(WeightFormat::bf16, MatmulShape{8, 3, 19, 36, 0, true}, 4u);
  check(WeightFormat::w8, MatmulShape{1, 1, 21, 40, 0, false}, 5u);
  check(WeightFormat::fp8, MatmulShape{8, 7, 21, 40, 0, true}, 6u);
  check(WeightFormat::w4, MatmulShape{1, 1, 17, 48, 16, false}, 7u);
  check(WeightFormat::w4, MatmulShape{8, 7, 17, 48, 16, true}, 8u);
}

TEST_CASE("GPU matmul w4 handles groups of 64 (a shift) and 96 (a division) per scale", "[gpu][matmul]") {
  const int32_t group = GENERATE(64, 96);
  const int64_t tokens = GENERATE(1, 7);
  check(WeightFormat::w4, MatmulShape{tokens == 1 ? 1 : 8, tokens, 300, 1152, group, true}, 21u);
  check(WeightFormat::w4, MatmulShape{tokens == 1 ? 1 : 8, tokens, 5000, 576, group, false}, 22u);
}

TEST_CASE("GPU matmul on tensor cores (prefill chunks) matches the CPU kernel within f16 input rounding",
          "[gpu][matmul][tensor-cores]") {
  const WeightFormat f = GENERATE(WeightFormat::f16, WeightFormat::bf16, WeightFormat::w8, WeightFormat::w4,
                                  WeightFormat::fp8);
  const int32_t group = f == WeightFormat::w4 ? GENERATE(8, 32, 128) : 0;
  // Full and partial 64-row tiles, a partial chunk, N not a multiple of the 128-column tile, K of
  // one and of many 32-wide steps; the smallest capacity that takes the path (64) with 5 rows. On
  // an H100/H200 the wgmma kernel (K a multiple of 64) runs these with one warpgroup per block
  // except N 4224 x 512 tokens (33 x 4 tiles fill 132 multiprocessors: two warpgroups), and K 160
  // keeps the mma.sync kernel.
  const MatmulShape s = GENERATE(MatmulShape{512, 512, 256, 512, 0, false}, MatmulShape{512, 37, 1000, 384, 0, true},
                                 MatmulShape{64, 64, 130, 1024 + 128, 0, true}, MatmulShape{64, 5, 77, 128, 0, false},
                                 MatmulShape{128, 100, 2048, 1536, 0, true}, MatmulShape{512, 300, 4224, 1024, 0, true},
                                 MatmulShape{64, 50, 200, 160, 0, false});
  MatmulShape sg = s;
  sg.group = group;
  if (f == WeightFormat::w4 && sg.k % group != 0) return;
  check_f16_inputs(f, sg, 4321u + uint32_t(sg.n + group));
}

TEST_CASE("GPU matmul on tensor cores keeps rows beyond f16's range finite and exact to rounding",
          "[gpu][matmul][tensor-cores]") {
  // x values around 1e6 would overflow f16 (65504); each row is scaled by a power of two first.
  check_f16_inputs(WeightFormat::w4, MatmulShape{64, 33, 256, 512, 128, true}, 77u, 1e6f);
  check_f16_inputs(WeightFormat::f16, MatmulShape{64, 64, 256, 512, 0, false}, 78u, 3e5f);
}

TEST_CASE("GPU int4 decode GEMV (packed f16) scales x into f16's range and back", "[gpu][matmul]") {
  // Rows far above f16's largest value and far below its smallest normal one.
  const float x_scale = GENERATE(1e6f, 3e4f, 1e-7f);
  check_f16_inputs(WeightFormat::w4, MatmulShape{1, 1, 4096, 4096, 128, true}, 91u, x_scale);
  check_f16_inputs(WeightFormat::w4, MatmulShape{1, 1, 300, 11008, 32, false}, 92u, x_scale);
}

// A few x values 300 times the others (the outlier channels of real activations) set the f16 staging
// scale, so the products of the ordinary values are f16 subnormals (gemv_w4_half.cuh): were they
// flushed or rounded coarsely, the ordinary values' share of each output (about 3% of its rms
// here) would be lost and the comparison at kW4GemvRtol would fail.
TEST_CASE("GPU int4 decode GEMV keeps the small values of x beside outliers", "[gpu][matmul]") {
  for (const MatmulShape& s : {MatmulShape{1, 1, 4096, 4096, 128, false}, MatmulShape{1, 1, 1536, 8960, 128, true}}) {
    std::mt19937 rng(uint32_t(s.k));
    Case c = matmul_case(WeightFormat::w4, s, rng);
    float* x = reinterpret_cast<float*>(c.ops[0].bytes.data());
    for (size_t i = 0; i < c.ops[0].bytes.size() / 4; i += 97) x[i] *= 300.0f;
    INFO("N " << s.n << " K " << s.k);
    const Outcome o = run_both(c);
    REQUIRE(o.cpu_status.ok());
    REQUIRE(o.gpu_status.ok());
    CHECK(compare_f32(o, int(c.ops.size()) - 1, kW4GemvRtol, 1e-6) == 0);
  }
}

// DSE_GPU_GEMV_W4=dp4a: x quantized per 32 values to int8 (gemv_w4_q8.cuh). Each value is off by
// up to half a step of 1/127 of its vector's largest |x|: for x uniform in [-1, 1] a dot product's
// error is about 0.4% of the outputs' rms (1 sigma), so 3e-2 bounds the largest of a few thousand.
TEST_CASE("GPU int4 decode GEMV with int8 activations (dp4a) matches the CPU kernel to x's rounding", "[gpu][matmul]") {
  const float x_scale = GENERATE(1.0f, 1e6f, 1e-7f);
  for (const MatmulShape& s : {MatmulShape{1, 1, 1536, 1536, 128, true}, MatmulShape{1, 1, 4096, 4096, 128, false},
                               MatmulShape{1, 1, 300, 11008, 32, true}, MatmulShape{1, 1, 7, 64, 64, false}}) {
    std::mt19937 rng(uint32_t(s.n + s.k));
    Case c = matmul_case(WeightFormat::w4, s, rng);
    float* x = reinterpret_cast<float*>(c.ops[0].bytes.data());
    for (size_t i = 0; i < c.ops[0].bytes.size() / 4; ++i) x[i] *= x_scale;
    INFO("N " << s.n << " K " << s.k << " group " << s.group << " x scale " << x_scale);
    const Outcome o = [&] {
      const EnvScope dp4a("DSE_GPU_GEMV_W4", "dp4a");
      return run_both(c);
    }();
    REQUIRE(o.cpu_status.ok());
    REQUIRE(o.gpu_status.ok());
    CHECK(compare_f32(o, int(c.ops.size()) - 1, 3e-2, 1e-6) == 0);
  }
}

TEST_CASE("GPU int4 decode GEMV with one row per task (DSE_GPU_W4_ROWS=1) matches the CPU kernel", "[gpu][matmul]") {
  const EnvScope one_row("DSE_GPU_W4_ROWS", "1");
  for (const MatmulShape& s : {MatmulShape{1, 1, 1536, 1536, 128, true}, MatmulShape{1, 1, 37, 4096, 32, false},
                               MatmulShape{1, 1, 40000, 512, 128, false}})
    check_f16_inputs(WeightFormat::w4, s, 96u + uint32_t(s.n));
}

TEST_CASE("GPU int4 decode GEMV split over K (long rows) matches the CPU kernel", "[gpu][matmul]") {
  // 1.5B's and 7B's down projections; K = 8192 + 32 leaves the eight warps' slices unequal.
  check_f16_inputs(WeightFormat::w4, MatmulShape{1, 1, 1536, 8960, 128, true}, 93u);
  check_f16_inputs(WeightFormat::w4, MatmulShape{1, 1, 4096, 11008, 128, false}, 94u);
  check_f16_inputs(WeightFormat::w4, MatmulShape{1, 1, 7, 8224, 32, true}, 95u);
}

TEST_CASE("GPU matmul with no tokens leaves the output untouched", "[gpu][matmul]") {
  std::mt19937 rng(5);
  const int64_t capacity = GENERATE(1, 4);  // the decode kernel (capacity 1) reads n_tokens late
  Case c = matmul_case(WeightFormat::w4, MatmulShape{capacity, 0, 64, 256, 128, false}, rng);
  const Outcome o = run_both(c);
  CHECK(same_bytes(o, int(c.ops.size()) - 1));
}

}  // namespace dse::gpu::test
