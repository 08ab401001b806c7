// mla_attention_f32 (absorbed form) against the naive form of ARCHITECTURES.md §2.3, which
// materialises k_nope and v from W_UK / W_UV, in double precision and through attention_f32.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

struct MlaCase {
  int64_t h, dn, dr, c, dv, cache_len, rows, start;
  DType cache_dt;
  WeightFormat wf;  // f32, f16 or bf16
};

struct MlaData {
  Tensor q, latent, pe, out, latent_scales, pe_scales;
  PackedWeight w_uk, w_uv;
  std::vector<float> qv, lv, pv;
  std::vector<float> lv_orig, pv_orig;  // before the cache rounded or quantized them
  Call call;
};

MlaData make(const MlaCase& m, uint32_t seed) {
  std::mt19937 rng(seed);
  MlaData a;
  const int64_t cap = m.rows;
  a.qv = random_values(rng, size_t(cap * m.h * (m.dn + m.dr)));
  a.lv = random_values(rng, size_t(m.cache_len * m.c));
  a.pv = random_values(rng, size_t(m.cache_len * m.dr));
  a.lv_orig = a.lv;
  a.pv_orig = a.pv;
  a.q = f32_tensor({cap, m.h * (m.dn + m.dr)}, a.qv);
  // Quantized caches: the whole row is one group, one scale per position.
  const bool quantized = is_quantized_cache(m.cache_dt);
  a.latent = quantized ? quant_cache_tensor(m.cache_dt, {m.cache_len, m.c}, a.lv, 1, a.latent_scales)
                       : cache_tensor(m.cache_dt, {m.cache_len, m.c}, a.lv);
  a.pe = quantized ? quant_cache_tensor(m.cache_dt, {m.cache_len, m.dr}, a.pv, 1, a.pe_scales)
                   : cache_tensor(m.cache_dt, {m.cache_len, m.dr}, a.pv);
  const float wscale = float(1.0 / std::sqrt(double(m.c)));
  a.w_uk = pack_weight_for_test(m.wf, {m.h, m.dn, m.c}, random_values(rng, size_t(m.h * m.dn * m.c), -wscale, wscale));
  a.w_uv = pack_weight_for_test(m.wf, {m.h, m.dv, m.c}, random_values(rng, size_t(m.h * m.dv * m.c), -wscale, wscale));
  a.out = Tensor(DType::f32, {cap, m.h * m.dv});
  if (quantized) {
    a.call.operands = {a.q.view, a.latent.view, a.latent_scales.view, a.pe.view, a.pe_scales.view,
                       a.w_uk.weight.view, a.w_uv.weight.view, a.out.view};
  } else {
    a.call.operands = {a.q.view, a.latent.view, a.pe.view, a.w_uk.weight.view, a.w_uv.weight.view, a.out.view};
  }
  a.call.iparams = {m.h, m.dn, m.dr, m.c, m.dv};
  a.call.fparams = {float(1.0 / std::sqrt(double(m.dn + m.dr)) * 1.5896)};
  return a;
}

// §2.3: k_nope[h] = W_UK[h] c, v[h] = W_UV[h] c, k = [k_nope, k_pe], q = [q_nope, q_pe].
std::vector<double> naive_reference(const MlaCase& m, const MlaData& a) {
  const int64_t dq = m.dn + m.dr;
  std::vector<double> out(size_t(m.rows * m.h * m.dv));
  for (int64_t h = 0; h < m.h; ++h) {
    std::vector<double> k(size_t(m.cache_len * dq)), v(size_t(m.cache_len * m.dv));
    for (int64_t s = 0; s < m.cache_len; ++s) {
      for (int64_t d = 0; d < m.dn; ++d) {
        double acc = 0;
        for (int64_t i = 0; i < m.c; ++i) acc += a.w_uk.dequant[size_t((h * m.dn + d) * m.c + i)] * a.lv[size_t(s * m.c + i)];
        k[size_t(s * dq + d)] = acc;
      }
      for (int64_t r = 0; r < m.dr; ++r) k[size_t(s * dq + m.dn + r)] = a.pv[size_t(s * m.dr + r)];
      for (int64_t d = 0; d < m.dv; ++d) {
        double acc = 0;
        for (int64_t i = 0; i < m.c; ++i) acc += a.w_uv.dequant[size_t((h * m.dv + d) * m.c + i)] * a.lv[size_t(s * m.c + i)];
        v[size_t(s * m.dv + d)] = acc;
      }
    }
    for (int64_t t = 0; t < m.rows; ++t) {
      const int64_t pos = m.start + t;
      std::vector<double> p(size_t(pos + 1));
      double mx = -1e300;
      for (int64_t s = 0; s <= pos; ++s) {
        double dot = 0;
        for (int64_t i = 0; i < dq; ++i) dot += double(a.qv[size_t(t * m.h * dq + h * dq + i)]) * k[size_t(s * dq + i)];
        p[size_t(s)] = dot * a.call.fparams[0];
        mx = std::max(mx, p[size_t(s)]);
      }
      double sum = 0;
      for (auto& x : p) sum += (x = std::exp(x - mx));
      for (int64_t d = 0; d < m.dv; ++d) {
        double o = 0;
        for (int64_t s = 0; s <= pos; ++s) o += p[size_t(s)] / sum * v[size_t(s * m.dv + d)];
        out[size_t(t * m.h * m.dv + h * m.dv + d)] = o;
      }
    }
  }
  return out;
}

}  // namespace

TEST_CASE("absorbed MLA matches the naive form with materialised keys and values", "[cpu][mla]") {
  ThreadPool pool(4);
  const MlaCase cases[] = {
      {1, 4, 2, 8, 4, 1, 1, 0, DType::f32, WeightFormat::f32},
      {4, 16, 8, 32, 16, 12, 12, 0, DType::f32, WeightFormat::f32},     // prefill from 0
      {3, 24, 8, 64, 16, 30, 4, 20, DType::f16, WeightFormat::bf16},    // chunk mid-sequence
      {2, 32, 16, 128, 32, 16, 1, 15, DType::f32, WeightFormat::f16},   // decode at the last slot
  };
  uint32_t seed = 30;
  for (const MlaCase& m : cases) {
    MlaData a = make(m, seed++);
    INFO("H " << m.h << " dn " << m.dn << " dr " << m.dr << " C " << m.c << " dv " << m.dv << " start " << m.start);
    REQUIRE(run_kernel("mla_attention_f32", a.call, step_of(m.rows, m.start), &pool).ok());
    expect_close(a.out.values(), naive_reference(m, a), 1e-4, {}, 2e-6);
  }
}

// Quantized latent and rope caches: exactly the naive form over the dequantized values (same
// tolerance as F32), and within 0.01 (I8) / 0.04 (FP8 e4m3) absolute of the naive form over the
// original F32 values (latent and rope values in [-1, 1]).
TEST_CASE("absorbed MLA reads I8 and FP8 latent and rope caches as q * scale per position", "[cpu][mla]") {
  ThreadPool pool(4);
  const MlaCase cases[] = {
      {4, 16, 8, 32, 16, 12, 12, 0, DType::i8, WeightFormat::f32},          // prefill from 0
      {3, 24, 8, 64, 16, 30, 4, 20, DType::fp8e4m3, WeightFormat::bf16},    // chunk mid-sequence
      {2, 32, 16, 128, 32, 16, 1, 15, DType::i8, WeightFormat::f16},        // decode at the last slot
      {2, 32, 16, 128, 32, 16, 1, 15, DType::fp8e4m3, WeightFormat::f32},
  };
  uint32_t seed = 130;
  for (const MlaCase& m : cases) {
    MlaData a = make(m, seed++);
    INFO("H " << m.h << " C " << m.c << " start " << m.start << " cache " << dtype_name(m.cache_dt));
    REQUIRE(run_kernel("mla_attention_f32", a.call, step_of(m.rows, m.start), &pool).ok());
    expect_close(a.out.values(), naive_reference(m, a), 1e-4, {}, 2e-6);
    MlaData orig = a;
    orig.lv = a.lv_orig;
    orig.pv = a.pv_orig;
    expect_close(a.out.values(), naive_reference(m, orig), 0.0, {}, m.cache_dt == DType::i8 ? 0.01 : 0.04);
  }
}

TEST_CASE("absorbed MLA agrees with attention_f32 run on the materialised naive keys and values", "[cpu][mla][attention]") {
  const MlaCase m{3, 16, 8, 32, 12, 10, 4, 6, DType::f32, WeightFormat::f32};
  MlaData a = make(m, 50);
  REQUIRE(run_kernel("mla_attention_f32", a.call, step_of(m.rows, m.start), nullptr).ok());
  // Materialise per-head K [S, H*(dn+dr)] and V [S, H*dv] in f32 and run the GQA kernel with Hkv = H.
  const int64_t dq = m.dn + m.dr;
  std::vector<float> kv(size_t(m.cache_len * m.h * dq)), vv(size_t(m.cache_len * m.h * m.dv));
  for (int64_t s = 0; s < m.cache_len; ++s) {
    for (int64_t h = 0; h < m.h; ++h) {
      for (int64_t d = 0; d < m.dn; ++d) {
        double acc = 0;
        for (int64_t i = 0; i < m.c; ++i) acc += a.w_uk.dequant[size_t((h * m.dn + d) * m.c + i)] * a.lv[size_t(s * m.c + i)];
        kv[size_t(s * m.h * dq + h * dq + d)] = float(acc);
      }
      for (int64_t r = 0; r < m.dr; ++r) kv[size_t(s * m.h * dq + h * dq + m.dn + r)] = a.pv[size_t(s * m.dr + r)];
      for (int64_t d = 0; d < m.dv; ++d) {
        double acc = 0;
        for (int64_t i = 0; i < m.c; ++i) acc += a.w_uv.dequant[size_t((h * m.dv + d) * m.c + i)] * a.lv[size_t(s * m.c + i)];
        vv[size_t(s * m.h * m.dv + h * m.dv + d)] = float(acc);
      }
    }
  }
  Tensor k = f32_tensor({m.cache_len, m.h * dq}, kv), v = f32_tensor({m.cache_len, m.h * m.dv}, vv);
  Tensor out(DType::f32, {m.rows, m.h * m.dv});
  Call gqa;
  gqa.operands = {a.q.view, k.view, v.view, out.view};
  gqa.iparams = {m.h, m.h, dq, m.dv};
  gqa.fparams = a.call.fparams;
  REQUIRE(run_kernel("attention_f32", gqa, step_of(m.rows, m.start), nullptr).ok());
  const auto naive = out.values();
  expect_close(a.out.values(), std::vector<double>(naive.begin(), naive.end()), 1e-4, {}, 2e-6);
}

TEST_CASE("MLA gives bit-identical results with 1 and 4 threads", "[cpu][mla]") {
  ThreadPool one(1), four(4);
  const MlaCase m{4, 16, 8, 64, 16, 20, 5, 10, DType::f16, WeightFormat::bf16};
  MlaData a = make(m, 60), b = make(m, 60);
  REQUIRE(run_kernel("mla_attention_f32", a.call, step_of(m.rows, m.start), &one).ok());
  REQUIRE(run_kernel("mla_attention_f32", b.call, step_of(m.rows, m.start), &four).ok());
  CHECK(std::memcmp(a.out.storage.data(), b.out.storage.data(), a.out.view.bytes) == 0);
}

TEST_CASE("MLA returns out_of_range for a position past the latent cache", "[cpu][mla]") {
  const MlaCase m{1, 4, 2, 8, 4, 6, 2, 0, DType::f32, WeightFormat::f32};
  MlaData a = make(m, 70);
  CHECK(run_kernel("mla_attention_f32", a.call, step_of(2, 5), nullptr).code() == StatusCode::out_of_range);
}
