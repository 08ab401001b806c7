// moe_ffn_f32_<w> against a double-precision sum of the selected experts, every weight format.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

struct FfnData {
  Tensor x, ids, weights, out;
  PackedWeight gate_up, down;
  Call call;
  int64_t rows, e, k, inter, hidden;
};

FfnData make(WeightFormat f, int64_t rows, int64_t e, int64_t k, int64_t inter, int64_t hidden, int32_t group, uint32_t seed) {
  std::mt19937 rng(seed);
  FfnData d;
  d.rows = rows; d.e = e; d.k = k; d.inter = inter; d.hidden = hidden;
  d.x = f32_tensor({rows, hidden}, random_values(rng, size_t(rows * hidden)));
  std::vector<int32_t> ids;
  for (int64_t t = 0; t < rows; ++t) {
    for (int64_t j = 0; j < k; ++j) ids.push_back(int32_t((t * 3 + j * 5 + 1) % e));  // distinct per token for k <= e
  }
  d.ids = i32_tensor({rows, k}, ids);
  d.weights = f32_tensor({rows, k}, random_values(rng, size_t(rows * k), 0.0f, 2.0f));
  d.gate_up = pack_weight_for_test(f, {e, 2 * inter, hidden}, random_values(rng, size_t(e * 2 * inter * hidden)), group);
  d.down = pack_weight_for_test(f, {e, hidden, inter}, random_values(rng, size_t(e * hidden * inter)), group);
  d.out = Tensor(DType::f32, {rows, hidden});
  d.call.operands = {d.x.view, d.ids.view, d.weights.view, d.gate_up.weight.view};
  if (d.gate_up.has_scales) d.call.operands.push_back(d.gate_up.scales.view);
  d.call.operands.push_back(d.down.weight.view);
  if (d.down.has_scales) d.call.operands.push_back(d.down.scales.view);
  d.call.operands.push_back(d.out.view);
  d.call.iparams = {e, k, inter, hidden};
  return d;
}

void reference(const FfnData& d, std::vector<double>& want, std::vector<double>& scale) {
  want.assign(size_t(d.rows * d.hidden), 0.0);
  scale.assign(want.size(), 0.0);
  const float* x = d.x.as<float>();
  for (int64_t t = 0; t < d.rows; ++t) {
    for (int64_t j = 0; j < d.k; ++j) {
      const int64_t e = d.ids.as<int32_t>()[t * d.k + j];
      const double w = d.weights.as<float>()[t * d.k + j];
      std::vector<double> act(size_t(d.inter)), act_mag(size_t(d.inter));
      for (int64_t i = 0; i < d.inter; ++i) {
        double g = 0, u = 0, gm = 0, um = 0;
        for (int64_t h = 0; h < d.hidden; ++h) {
          const double xv = x[t * d.hidden + h];
          g += d.gate_up.dequant[size_t((e * 2 * d.inter + i) * d.hidden + h)] * xv;
          u += d.gate_up.dequant[size_t((e * 2 * d.inter + d.inter + i) * d.hidden + h)] * xv;
          gm += std::fabs(d.gate_up.dequant[size_t((e * 2 * d.inter + i) * d.hidden + h)] * xv);
          um += std::fabs(d.gate_up.dequant[size_t((e * 2 * d.inter + d.inter + i) * d.hidden + h)] * xv);
        }
        act[size_t(i)] = g / (1.0 + std::exp(-g)) * u;
        act_mag[size_t(i)] = std::fabs(act[size_t(i)]) + gm * um * 1e-1 + gm + um;  // crude error scale of act
      }
      for (int64_t h = 0; h < d.hidden; ++h) {
        double o = 0, m = 0;
        for (int64_t i = 0; i < d.inter; ++i) {
          o += d.down.dequant[size_t((e * d.hidden + h) * d.inter + i)] * act[size_t(i)];
          m += std::fabs(d.down.dequant[size_t((e * d.hidden + h) * d.inter + i)]) * act_mag[size_t(i)];
        }
        want[size_t(t * d.hidden + h)] += w * o;
        scale[size_t(t * d.hidden + h)] += std::fabs(w) * m;
      }
    }
  }
}

}  // namespace

TEST_CASE("moe_ffn matches the weighted sum of the selected SwiGLU experts for every weight format", "[cpu][moe_ffn]") {
  ThreadPool pool(4);
  struct Shape { int64_t rows, e, k, inter, hidden; int32_t group; };
  const Shape shapes[] = {{1, 4, 2, 16, 32, 16}, {3, 8, 3, 32, 64, 32}, {2, 6, 1, 24, 48, 8}};
  uint32_t seed = 80;
  for (WeightFormat f : kAllWeightFormats) {
    for (const Shape& s : shapes) {
      FfnData d = make(f, s.rows, s.e, s.k, s.inter, s.hidden, s.group, seed++);
      const std::string name = format_kernel("moe_ffn_f32_", f);
      INFO(name << " T " << s.rows << " E " << s.e << " k " << s.k << " I " << s.inter << " H " << s.hidden);
      REQUIRE(run_kernel(name, d.call, step_of(s.rows), &pool).ok());
      std::vector<double> want, scale;
      reference(d, want, scale);
      expect_close(d.out.values(), want, 1e-5, scale);
    }
  }
}

TEST_CASE("moe_ffn gives bit-identical results with 1 and 4 threads", "[cpu][moe_ffn]") {
  ThreadPool one(1), four(4);
  for (WeightFormat f : kAllWeightFormats) {
    FfnData a = make(f, 3, 8, 3, 32, 64, 32, 90), b = make(f, 3, 8, 3, 32, 64, 32, 90);
    const std::string name = format_kernel("moe_ffn_f32_", f);
    INFO(name);
    REQUIRE(run_kernel(name, a.call, step_of(3), &one).ok());
    REQUIRE(run_kernel(name, b.call, step_of(3), &four).ok());
    CHECK(std::memcmp(a.out.storage.data(), b.out.storage.data(), a.out.view.bytes) == 0);
  }
}

TEST_CASE("moe_ffn returns out_of_range for an expert id outside n_experts", "[cpu][moe_ffn]") {
  FfnData d = make(WeightFormat::f32, 2, 4, 2, 16, 32, 0, 95);
  d.ids.as<int32_t>()[3] = 4;
  Status s = run_kernel("moe_ffn_f32_f32", d.call, step_of(2), nullptr);
  CHECK(s.code() == StatusCode::out_of_range);
  CHECK(s.message().find("expert id 4") != std::string::npos);
  d.ids.as<int32_t>()[3] = -2;
  CHECK(run_kernel("moe_ffn_f32_f32", d.call, step_of(2), nullptr).code() == StatusCode::out_of_range);
}
