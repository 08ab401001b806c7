// attention_f32 (causal GQA) against a double-precision softmax reference.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

struct AttnCase {
  int64_t hq, hkv, d, dv, cache_len, rows, start;
  DType kdt, vdt;
};

struct AttnData {
  Tensor q, k, v, out, k_scales, v_scales;
  std::vector<float> k_orig, v_orig;  // before the cache rounded or quantized them
  std::vector<float> qv, kv, vv;
  Call call;
};

AttnData make(const AttnCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  AttnData a;
  const int64_t cap = c.rows + 1;
  a.qv = random_values(rng, size_t(cap * c.hq * c.d), -2.0f, 2.0f);
  a.kv = random_values(rng, size_t(c.cache_len * c.hkv * c.d), -2.0f, 2.0f);
  a.vv = random_values(rng, size_t(c.cache_len * c.hkv * c.dv));
  a.k_orig = a.kv;
  a.v_orig = a.vv;
  a.q = f32_tensor({cap, c.hq * c.d}, a.qv);
  // Quantized caches: one scale per (position, KV head), the operand right after the cache.
  auto cache = [&](DType dt, int64_t width, std::vector<float>& v, Tensor& scales) {
    if (is_quantized_cache(dt)) return quant_cache_tensor(dt, {c.cache_len, width}, v, c.hkv, scales);
    return cache_tensor(dt, {c.cache_len, width}, v);
  };
  a.k = cache(c.kdt, c.hkv * c.d, a.kv, a.k_scales);
  a.v = cache(c.vdt, c.hkv * c.dv, a.vv, a.v_scales);
  a.out = Tensor(DType::f32, {cap, c.hq * c.dv});
  a.call.operands = {a.q.view, a.k.view};
  if (is_quantized_cache(c.kdt)) a.call.operands.push_back(a.k_scales.view);
  a.call.operands.push_back(a.v.view);
  if (is_quantized_cache(c.vdt)) a.call.operands.push_back(a.v_scales.view);
  a.call.operands.push_back(a.out.view);
  a.call.iparams = {c.hq, c.hkv, c.d, c.dv};
  a.call.fparams = {float(1.0 / std::sqrt(double(c.d)))};
  return a;
}

// Causal softmax attention in double over the cache values `kv`, `vv`.
std::vector<double> reference(const AttnCase& c, const AttnData& a, const std::vector<float>& kv,
                              const std::vector<float>& vv) {
  std::vector<double> out(size_t(c.rows * c.hq * c.dv));
  const double scale = a.call.fparams[0];
  for (int64_t t = 0; t < c.rows; ++t) {
    const int64_t pos = c.start + t;
    for (int64_t h = 0; h < c.hq; ++h) {
      const int64_t kvh = h / (c.hq / c.hkv);
      std::vector<double> s(size_t(pos + 1));
      double mx = -1e300;
      for (int64_t j = 0; j <= pos; ++j) {
        double dot = 0;
        for (int64_t i = 0; i < c.d; ++i) dot += double(a.qv[size_t(t * c.hq * c.d + h * c.d + i)]) * kv[size_t(j * c.hkv * c.d + kvh * c.d + i)];
        s[size_t(j)] = dot * scale;
        mx = std::max(mx, s[size_t(j)]);
      }
      double sum = 0;
      for (auto& x : s) sum += (x = std::exp(x - mx));
      for (int64_t i = 0; i < c.dv; ++i) {
        double o = 0;
        for (int64_t j = 0; j <= pos; ++j) o += s[size_t(j)] / sum * vv[size_t(j * c.hkv * c.dv + kvh * c.dv + i)];
        out[size_t(t * c.hq * c.dv + h * c.dv + i)] = o;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("attention matches a double-precision causal softmax for GQA shapes and cache dtypes", "[cpu][attention]") {
  ThreadPool pool(4);
  const AttnCase cases[] = {
      {1, 1, 4, 4, 1, 1, 0, DType::f32, DType::f32},      // first token
      {4, 4, 16, 16, 8, 8, 0, DType::f32, DType::f32},    // prefill, MHA
      {8, 2, 32, 32, 40, 5, 30, DType::f16, DType::f16},  // chunk mid-sequence, GQA 4:1
      {6, 3, 24, 8, 20, 1, 19, DType::f32, DType::f16},   // decode at the last slot, Dv != D
      {2, 1, 128, 128, 64, 3, 7, DType::f16, DType::f32},
  };
  uint32_t seed = 10;
  for (const AttnCase& c : cases) {
    AttnData a = make(c, seed++);
    INFO("Hq " << c.hq << " Hkv " << c.hkv << " D " << c.d << " Dv " << c.dv << " start " << c.start);
    REQUIRE(run_kernel("attention_f32", a.call, step_of(c.rows, c.start), &pool).ok());
    expect_close(a.out.values(), reference(c, a, a.kv, a.vv), 1e-4, {}, 2e-6);
  }
}

// Quantized caches: the kernel must compute exactly the attention of the dequantized values
// (q * scale, same tolerance as F32), and stay close to the attention of the original F32 values:
// within 0.02 (I8) and 0.08 (FP8 e4m3) absolute for q, k in [-2, 2] and v in [-1, 1].
TEST_CASE("attention reads I8 and FP8 caches as q * scale per (position, KV head)", "[cpu][attention]") {
  ThreadPool pool(4);
  const AttnCase cases[] = {
      {4, 4, 16, 16, 8, 8, 0, DType::i8, DType::i8},               // prefill, MHA
      {8, 2, 32, 32, 40, 5, 30, DType::fp8e4m3, DType::fp8e4m3},   // GQA 4:1 mid-sequence
      {6, 3, 24, 8, 20, 1, 19, DType::i8, DType::fp8e4m3},         // decode, Dv != D
      {2, 1, 128, 128, 64, 3, 7, DType::f16, DType::i8},           // mixed with a float cache
      {2, 2, 64, 64, 30, 2, 28, DType::fp8e4m3, DType::f32},
  };
  uint32_t seed = 40;
  for (const AttnCase& c : cases) {
    AttnData a = make(c, seed++);
    INFO("Hq " << c.hq << " Hkv " << c.hkv << " D " << c.d << " Dv " << c.dv << " start " << c.start << " k "
               << dtype_name(c.kdt) << " v " << dtype_name(c.vdt));
    REQUIRE(run_kernel("attention_f32", a.call, step_of(c.rows, c.start), &pool).ok());
    expect_close(a.out.values(), reference(c, a, a.kv, a.vv), 1e-4, {}, 2e-6);
    const bool fp8 = c.kdt == DType::fp8e4m3 || c.vdt == DType::fp8e4m3;
    expect_close(a.out.values(), reference(c, a, a.k_orig, a.v_orig), 0.0, {}, fp8 ? 0.08 : 0.02);
  }
}

TEST_CASE("attention gives bit-identical results with 1 and 4 threads", "[cpu][attention]") {
  ThreadPool one(1), four(4);
  const AttnCase c{8, 2, 32, 32, 40, 6, 20, DType::f16, DType::f32};
  AttnData a = make(c, 77), b = make(c, 77);
  REQUIRE(run_kernel("attention_f32", a.call, step_of(c.rows, c.start), &one).ok());
  REQUIRE(run_kernel("attention_f32", b.call, step_of(c.rows, c.start), &four).ok());
  CHECK(std::memcmp(a.out.storage.data(), b.out.storage.data(), a.out.view.bytes) == 0);
}

TEST_CASE("attention returns out_of_range for a query position past the cache", "[cpu][attention]") {
  const AttnCase c{2, 1, 8, 8, 10, 2, 0, DType::f32, DType::f32};
  AttnData a = make(c, 5);
  Status s = run_kernel("attention_f32", a.call, step_of(2, 9), nullptr);
  CHECK(s.code() == StatusCode::out_of_range);
  CHECK(s.message().find("position 10") != std::string::npos);
}
