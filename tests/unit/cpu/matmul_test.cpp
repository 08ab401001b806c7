// matmul_f32_<w> against a double-precision reference on the dequantized weights, every format.
#include <catch2/catch_test_macros.hpp>

#include "dse/cpu/weight_format.h"
#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

struct MatmulCase {
  Tensor x, bias, out;
  PackedWeight w;
  Call call;
};

MatmulCase make_case(WeightFormat f, int64_t t, int64_t n, int64_t k, bool with_bias, int32_t group, uint32_t seed) {
  std::mt19937 rng(seed);
  MatmulCase c;
  c.x = f32_tensor({t, k}, random_values(rng, size_t(t * k)));
  c.w = pack_weight_for_test(f, {n, k}, random_values(rng, size_t(n * k)), group);
  c.out = Tensor(DType::f32, {t, n});
  c.call.operands.push_back(c.x.view);
  c.call.operands.push_back(c.w.weight.view);
  if (c.w.has_scales) c.call.operands.push_back(c.w.scales.view);
  if (with_bias) {
    c.bias = f32_tensor({n}, random_values(rng, size_t(n)));
    c.call.operands.push_back(c.bias.view);
  }
  c.call.operands.push_back(c.out.view);
  c.call.iparams = {with_bias ? 1 : 0};
  return c;
}

}  // namespace

TEST_CASE("matmul matches a double-precision reference for every weight format and shape", "[cpu][matmul]") {
  ThreadPool pool(4);
  struct Shape { int64_t t, n, k; int32_t group; };
  const Shape shapes[] = {{1, 1, 2, 2}, {1, 37, 64, 32}, {3, 17, 256, 128}, {5, 64, 96, 32}, {1, 130, 384, 128}, {7, 9, 30, 6}};
  uint32_t seed = 1;
  for (WeightFormat f : kAllWeightFormats) {
    for (const Shape& s : shapes) {
      for (bool with_bias : {false, true}) {
        MatmulCase c = make_case(f, s.t, s.n, s.k, with_bias, s.group, seed++);
        const std::string name = format_kernel("matmul_f32_", f);
        INFO(name << " T=" << s.t << " N=" << s.n << " K=" << s.k << " bias=" << with_bias);
        REQUIRE(run_kernel(name, c.call, step_of(s.t), &pool).ok());
        std::vector<double> want(size_t(s.t * s.n)), scale(want.size());
        const float* x = c.x.f32();
        for (int64_t t = 0; t < s.t; ++t) {
          for (int64_t n = 0; n < s.n; ++n) {
            double acc = with_bias ? double(c.bias.f32()[n]) : 0.0, mag = std::fabs(acc);
            for (int64_t k = 0; k < s.k; ++k) {
              acc += double(x[t * s.k + k]) * c.w.dequant[size_t(n * s.k + k)];
              mag += std::fabs(double(x[t * s.k + k]) * c.w.dequant[size_t(n * s.k + k)]);
            }
            want[size_t(t * s.n + n)] = acc;
            scale[size_t(t * s.n + n)] = mag;
          }
        }
        expect_close(c.out.values(), want, 1e-5, scale);
      }
    }
  }
}

TEST_CASE("matmul gives bit-identical results with 1 and 4 threads", "[cpu][matmul]") {
  ThreadPool one(1), four(4);
  for (WeightFormat f : kAllWeightFormats) {
    MatmulCase a = make_case(f, 6, 75, 256, true, 64, 99);
    MatmulCase b = make_case(f, 6, 75, 256, true, 64, 99);
    const std::string name = format_kernel("matmul_f32_", f);
    INFO(name);
    REQUIRE(run_kernel(name, a.call, step_of(6), &one).ok());
    REQUIRE(run_kernel(name, b.call, step_of(6), &four).ok());
    CHECK(std::memcmp(a.out.storage.data(), b.out.storage.data(), a.out.view.bytes) == 0);
  }
}

TEST_CASE("matmul processes only the call's tokens and leaves the rest of the slot alone", "[cpu][matmul]") {
  MatmulCase c = make_case(WeightFormat::f32, 4, 8, 16, false, 0, 5);
  for (int64_t i = 0; i < c.out.count(); ++i) c.out.f32()[i] = 12345.0f;
  REQUIRE(run_kernel("matmul_f32_f32", c.call, step_of(2), nullptr).ok());
  CHECK(c.out.f32()[1 * 8 + 7] != 12345.0f);
  CHECK(c.out.f32()[2 * 8] == 12345.0f);
  CHECK(c.out.f32()[3 * 8 + 7] == 12345.0f);
}
