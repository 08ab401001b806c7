// moe_route_f32 and moe_ffn_f32_<w> on the GPU against the CPU kernels.
#include <algorithm>
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <string>

#include "gpu_test_support.h"

namespace dse::gpu::test {
namespace {

using cpu::WeightFormat;

struct RouteShape {
  int64_t t_cap, n_tokens, e, top_k, n_group, topk_group, scoring, method, norm;
  bool bias;
  float scaling;
};

Case route_case(const RouteShape& r, std::mt19937& rng) {
  Case c;
  c.kernel = "moe_route_f32";
  c.ops.push_back(f32_tensor({r.t_cap, r.e}, rng, -3.0f, 3.0f));
  if (r.bias) c.ops.push_back(f32_tensor({r.e}, rng, -0.1f, 0.1f));
  c.ops.push_back(i32_tensor({r.t_cap, r.top_k}, std::vector<int32_t>(size_t(r.t_cap * r.top_k), -7)));
  c.ops.push_back(sentinel_f32({r.t_cap, r.top_k}));
  c.iparams = {r.top_k, r.n_group, r.topk_group, r.scoring, r.method, r.norm, r.bias ? 1 : 0};
  c.fparams = {r.scaling};
  c.step = {r.n_tokens, 0};
  return c;
}

// Distinct random expert ids per token, as moe_route produces.
std::vector<int32_t> random_ids(int64_t t_cap, int64_t top_k, int64_t e, std::mt19937& rng) {
  std::vector<int32_t> ids;
  std::vector<int32_t> all(static_cast<size_t>(e));
  std::iota(all.begin(), all.end(), 0);
  for (int64_t t = 0; t < t_cap; ++t) {
    std::shuffle(all.begin(), all.end(), rng);
    ids.insert(ids.end(), all.begin(), all.begin() + top_k);
  }
  return ids;
}

struct FfnShape {
  int64_t t_cap, n_tokens, e, top_k, inter, hidden;
  int32_t group;
};

Case ffn_case(WeightFormat f, const FfnShape& s, std::mt19937& rng) {
  Case c;
  c.kernel = "moe_ffn_f32_" + std::string(cpu::weight_format_name(f));
  c.ops.push_back(f32_tensor({s.t_cap, s.hidden}, rng));
  c.ops.push_back(i32_tensor({s.t_cap, s.top_k}, random_ids(s.t_cap, s.top_k, s.e, rng)));
  c.ops.push_back(f32_tensor({s.t_cap, s.top_k}, rng, 0.0f, 1.0f));
  for (Operand& w : packed_weight(f, {s.e, 2 * s.inter, s.hidden}, s.group, rng, 0.05f)) c.ops.push_back(std::move(w));
  for (Operand& w : packed_weight(f, {s.e, s.hidden, s.inter}, s.group, rng, 0.05f)) c.ops.push_back(std::move(w));
  c.ops.push_back(sentinel_f32({s.t_cap, s.hidden}));
  c.iparams = {s.e, s.top_k, s.inter, s.hidden};
  c.step = {s.n_tokens, 0};
  return c;
}

// int4 experts on the 16-byte path run in packed f16 arithmetic (gemv_w4_half.cuh): x and the
// acts are rounded to f16 (11 significant bits) before each GEMV and the products summed in f16,
// so the error is a few units of 2^-11 relative to the size of the outputs, not f32 rounding.
// Two such GEMVs in a row (gate and up, then down over heavy-tailed acts) double matmul_test's
// kW4GemvRtol for one. On an H200: with the offset taken off every nibble pair, one output of
// 1024 was off by 4.1e-3 of the outputs' rms (T 7, E 8, k 3, I 256, H 128); with it taken off
// once per 8 weights (about twice the f16 rounding, scripts/w4-half-error-sim.py), 13 of 131072
// were above 8e-3, the largest 1.39e-2 (T 200, E 64, k 6).
constexpr double kW4HalfRtol = 1.6e-2;

}  // namespace

TEST_CASE("GPU MoE routing picks the same experts with the same weights as the CPU kernel", "[gpu][moe]") {
  const RouteShape r = GENERATE(
      // DeepSeek-V2-Lite: softmax, greedy, 6 of 64.
      RouteShape{1, 1, 64, 6, 1, 1, 0, 0, 0, false, 1.0f},
      RouteShape{8, 7, 64, 6, 1, 1, 0, 0, 0, false, 1.0f},
      // DeepSeek-V2: softmax, group_limited_greedy, 6 of 160 in 8 groups keeping 3.
      RouteShape{8, 7, 160, 6, 8, 3, 0, 1, 0, false, 16.0f},
      // DeepSeek-V3: sigmoid, noaux_tc with bias, 8 of 256 in 8 groups keeping 4, normalised.
      RouteShape{1, 1, 256, 8, 8, 4, 1, 2, 1, true, 2.5f},
      RouteShape{8, 7, 256, 8, 8, 4, 1, 2, 1, true, 2.5f},
      // More experts than threads per block.
      RouteShape{4, 4, 1024, 8, 16, 4, 1, 2, 1, true, 1.0f});
  std::mt19937 rng(uint32_t(r.e * 10 + r.n_tokens));
  const Case c = route_case(r, rng);
  INFO("E " << r.e << " top_k " << r.top_k << " method " << r.method << " T " << r.n_tokens);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  const int ids = r.bias ? 2 : 1;
  CHECK(same_bytes(o, ids));
  CHECK(compare_f32(o, ids + 1, 1e-6, 1e-7) == 0);
}

TEST_CASE("GPU MoE routing breaks ties and ranks NaN scores as the CPU kernel does", "[gpu][moe]") {
  // Logits of three values: most scores tie, and each tie goes to the lower expert id (and, for
  // the grouped methods, the lower group). With sigmoid scoring one NaN logit per token gives one
  // NaN score, which every number beats.
  const RouteShape r = GENERATE(RouteShape{4, 4, 64, 6, 1, 1, 0, 0, 0, false, 1.0f},
                                RouteShape{4, 4, 160, 6, 8, 3, 0, 1, 0, false, 16.0f},
                                RouteShape{4, 4, 256, 8, 8, 4, 1, 2, 1, false, 2.5f});
  std::mt19937 rng(uint32_t(r.e + 3));
  Case c = route_case(r, rng);
  std::uniform_int_distribution<int> level(-1, 1);
  std::span<float> logits = c.ops[0].as<float>();
  for (float& v : logits) v = float(level(rng));
  if (r.scoring == 1)
    for (int64_t t = 0; t < r.t_cap; ++t)
      logits[size_t(t * r.e + (t * 37) % r.e)] = std::numeric_limits<float>::quiet_NaN();
  INFO("E " << r.e << " top_k " << r.top_k << " method " << r.method);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(same_bytes(o, 1));
  CHECK(compare_f32(o, 2, 1e-6, 1e-7) == 0);
}

TEST_CASE("GPU MoE FFN runs the selected experts like the CPU kernel for every weight format", "[gpu][moe]") {
  const WeightFormat f = GENERATE(WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16, WeightFormat::w8,
                                  WeightFormat::w4, WeightFormat::fp8);
  const int32_t group = GENERATE(32, 128);
  const FfnShape s = GENERATE(FfnShape{1, 1, 8, 2, 128, 256, 0}, FfnShape{8, 7, 8, 3, 256, 128, 0},
                              FfnShape{1, 1, 64, 6, 384, 512, 0});
  FfnShape fs = s;
  fs.group = group;
  std::mt19937 rng(uint32_t(fs.inter + fs.n_tokens));
  const Case c = ffn_case(f, fs, rng);
  INFO(c.kernel << " T " << fs.n_tokens << "/" << fs.t_cap << " E " << fs.e << " k " << fs.top_k << " I " << fs.inter
                << " H " << fs.hidden << " group " << fs.group);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  // int4 takes the packed f16 kernels here (K % 32 == 0, groups of 32s): see kW4HalfRtol.
  CHECK(compare_f32(o, int(c.ops.size()) - 1, f == WeightFormat::w4 ? kW4HalfRtol : 5e-5, 1e-6) == 0);
}

TEST_CASE("GPU MoE FFN int4 experts in packed f16 match the CPU kernel on DeepSeek expert shapes", "[gpu][moe]") {
  // DeepSeek-V2-Lite's expert (I 1408: 44 vectors per down row, 8.25 per lane over 6 experts);
  // 16 vectors per lane (four batches of the down kernel) with 3 live tokens in a capacity of 4;
  // rows shorter than a warp's lanes (H 160, I 96: the down list wraps over experts in one batch).
  const FfnShape s = GENERATE(FfnShape{1, 1, 8, 6, 1408, 2048, 128}, FfnShape{4, 3, 8, 8, 2048, 256, 128},
                              FfnShape{2, 2, 16, 6, 96, 160, 32});
  std::mt19937 rng(uint32_t(s.inter * 3 + s.top_k));
  const Case c = ffn_case(WeightFormat::w4, s, rng);
  INFO("T " << s.n_tokens << "/" << s.t_cap << " E " << s.e << " k " << s.top_k << " I " << s.inter << " H " << s.hidden
            << " group " << s.group);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, kW4HalfRtol, 1e-6) == 0);
}

TEST_CASE("GPU MoE FFN int4 experts in packed f16 scale x and the acts into f16's range and back", "[gpu][moe]") {
  // x far above f16's largest value and far below its smallest normal one; the acts follow.
  const float x_scale = GENERATE(1e6f, 1e-7f);
  std::mt19937 rng(31);
  Case c = ffn_case(WeightFormat::w4, FfnShape{1, 1, 8, 3, 256, 512, 128}, rng);
  for (float& v : c.ops[0].as<float>()) v *= x_scale;
  INFO("x scale " << x_scale);
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, kW4HalfRtol, 0.0) == 0);
}

TEST_CASE("GPU MoE FFN takes the scalar path for sizes that are not whole 16-byte vectors", "[gpu][moe]") {
  const WeightFormat f = GENERATE(WeightFormat::f32, WeightFormat::f16, WeightFormat::w8, WeightFormat::w4);
  std::mt19937 rng(11);
  const Case c = ffn_case(f, FfnShape{8, 5, 4, 2, 18, 34, 2}, rng);
  const Outcome o = run_both(c);
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, 5e-5, 1e-6) == 0);
}

TEST_CASE("GPU MoE FFN reports an expert id outside [0, E) and writes nothing", "[gpu][moe]") {
  std::mt19937 rng(12);
  Case c = ffn_case(WeightFormat::w4, FfnShape{4, 3, 8, 2, 64, 128, 32}, rng);
  c.ops[1].as<int32_t>()[5] = 8;  // token 2, slot 1
  const Outcome o = run_both(c);
  CHECK(o.cpu_status.code() == StatusCode::out_of_range);
  CHECK(o.gpu_status.code() == StatusCode::out_of_range);
  CHECK(same_bytes(o, int(c.ops.size()) - 1));
}

// Prefill chunks (capacity >= 64) sort their (token, slot) entries by expert and run grouped GEMMs
// on the tensor cores (moe_gemm.cuh; the default, DSE_GPU_MOE_GEMM=0 turns it off). x and the
// acts are rounded to f16 as in the packed-f16 GEMVs (kW4HalfRtol); the dequantized weights too,
// for every format.
TEST_CASE("GPU MoE FFN as grouped GEMMs (the prefill default) matches the CPU kernel in prefill chunks", "[gpu][moe]") {
  const WeightFormat f =
      GENERATE(WeightFormat::f16, WeightFormat::bf16, WeightFormat::w8, WeightFormat::w4, WeightFormat::fp8);
  // Many tokens per expert, a partial chunk; V2-Lite's expert width with few tokens per expert
  // (several experts get no entry); K of the down GEMM (I) a multiple of 32 but not of 64.
  const FfnShape s = GENERATE(FfnShape{128, 128, 8, 2, 256, 512, 128}, FfnShape{256, 200, 64, 6, 1408, 512, 128},
                              FfnShape{64, 37, 16, 4, 160, 256, 32});
  std::mt19937 rng(uint32_t(s.e * 7 + s.n_tokens));
  const Case c = ffn_case(f, s, rng);
  INFO(c.kernel << " T " << s.n_tokens << "/" << s.t_cap << " E " << s.e << " k " << s.top_k << " I " << s.inter
                << " H " << s.hidden);
  unsetenv("DSE_GPU_MOE_GEMM");
  const Outcome o = run_both(c);
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, kW4HalfRtol, 1e-6) == 0);
}

// DSE_GPU_MOE_GEMM=0: the same prefill chunks through the per-token GEMVs, which stay the path of
// decode steps and of chunks below the tensor-core threshold.
TEST_CASE("GPU MoE FFN with DSE_GPU_MOE_GEMM=0 runs prefill chunks per token like the CPU kernel", "[gpu][moe]") {
  const WeightFormat f = GENERATE(WeightFormat::f16, WeightFormat::w4);
  const FfnShape s = GENERATE(FfnShape{256, 200, 64, 6, 1408, 512, 128}, FfnShape{64, 37, 16, 4, 160, 256, 32});
  std::mt19937 rng(uint32_t(s.e * 5 + s.n_tokens));
  const Case c = ffn_case(f, s, rng);
  INFO(c.kernel << " T " << s.n_tokens << "/" << s.t_cap << " E " << s.e << " k " << s.top_k);
  const Outcome o = [&] {
    const EnvScope per_token("DSE_GPU_MOE_GEMM", "0");
    return run_both(c);
  }();
  REQUIRE(o.cpu_status.ok());
  REQUIRE(o.gpu_status.ok());
  CHECK(compare_f32(o, int(c.ops.size()) - 1, kW4HalfRtol, 1e-6) == 0);
}

TEST_CASE("GPU MoE FFN as grouped GEMMs reports an expert chosen by every token twice", "[gpu][moe]") {
  // 64 tokens each naming expert 3 in both slots: 128 entries for one expert, more than a chunk's
  // tokens, which the grouped GEMM's grid does not cover (moe_route never repeats an id).
  std::mt19937 rng(13);
  Case c = ffn_case(WeightFormat::w4, FfnShape{64, 64, 8, 2, 64, 128, 32}, rng);
  for (int32_t& id : c.ops[1].as<int32_t>()) id = 3;
  unsetenv("DSE_GPU_MOE_GEMM");
  const Outcome o = run_both(c);
  CHECK(o.cpu_status.ok());
  CHECK(o.gpu_status.code() == StatusCode::invalid_argument);
}

}  // namespace dse::gpu::test
