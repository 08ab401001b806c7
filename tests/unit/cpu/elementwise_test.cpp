// add_f32, silu_mul_f32 and last_row_f32 against plain-loop references.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

TEST_CASE("add sums two activations, also in place", "[cpu][elementwise]") {
  std::mt19937 rng(4);
  ThreadPool pool(4);
  const int64_t cap = 4, w = 33;
  auto av = random_values(rng, size_t(cap * w)), bv = random_values(rng, size_t(cap * w));
  Tensor a = f32_tensor({cap, w}, av), b = f32_tensor({cap, w}, bv), out(DType::f32, {cap, w});
  Call call;
  call.operands = {a.view, b.view, out.view};
  REQUIRE(run_kernel("add_f32", call, step_of(3), &pool).ok());
  for (int64_t i = 0; i < 3 * w; ++i) REQUIRE(out.f32()[i] == av[size_t(i)] + bv[size_t(i)]);
  CHECK(out.f32()[3 * w] == 0.0f);
  call.operands = {a.view, b.view, a.view};
  REQUIRE(run_kernel("add_f32", call, step_of(4), &pool).ok());
  for (int64_t i = 0; i < cap * w; ++i) REQUIRE(a.f32()[i] == av[size_t(i)] + bv[size_t(i)]);
}

TEST_CASE("silu_mul multiplies silu of the gate half by the up half", "[cpu][elementwise]") {
  std::mt19937 rng(5);
  ThreadPool pool(3);
  const int64_t cap = 3, inter = 45;
  auto gv = random_values(rng, size_t(cap * 2 * inter), -8.0f, 8.0f);
  Tensor gu = f32_tensor({cap, 2 * inter}, gv), out(DType::f32, {cap, inter});
  Call call;
  call.operands = {gu.view, out.view};
  REQUIRE(run_kernel("silu_mul_f32", call, step_of(3), &pool).ok());
  std::vector<double> want(size_t(cap * inter));
  for (int64_t t = 0; t < cap; ++t) {
    for (int64_t j = 0; j < inter; ++j) {
      const double g = gv[size_t(t * 2 * inter + j)], u = gv[size_t(t * 2 * inter + inter + j)];
      want[size_t(t * inter + j)] = g / (1.0 + std::exp(-g)) * u;
    }
  }
  expect_close(out.values(), want, 1e-5, {}, 1e-6);
}

TEST_CASE("last_row copies the row of the call's last token", "[cpu][elementwise]") {
  std::mt19937 rng(6);
  const int64_t cap = 5, w = 9;
  auto xv = random_values(rng, size_t(cap * w));
  Tensor x = f32_tensor({cap, w}, xv), out(DType::f32, {1, w});
  Call call;
  call.operands = {x.view, out.view};
  REQUIRE(run_kernel("last_row_f32", call, step_of(3), nullptr).ok());
  for (int64_t i = 0; i < w; ++i) CHECK(out.f32()[i] == xv[size_t(2 * w + i)]);
  REQUIRE(run_kernel("last_row_f32", call, step_of(100), nullptr).ok());  // clamped to the capacity
  for (int64_t i = 0; i < w; ++i) CHECK(out.f32()[i] == xv[size_t(4 * w + i)]);
  CHECK(run_kernel("last_row_f32", call, step_of(0), nullptr).code() == StatusCode::out_of_range);
}
