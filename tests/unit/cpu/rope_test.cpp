// rope_f32 in both pairings against angles computed in double; positions past the table.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {
// table[p, j] = cos(p * inv_freq[j]), table[p, half + j] = sin(...), inv_freq = 10000^(-2j/rot_dim).
Tensor make_table(int64_t positions, int64_t rot_dim) {
  Tensor t(DType::f32, {positions, rot_dim});
  for (int64_t p = 0; p < positions; ++p) {
    for (int64_t j = 0; j < rot_dim / 2; ++j) {
      const double angle = double(p) * std::pow(10000.0, -2.0 * double(j) / double(rot_dim));
      t.f32()[p * rot_dim + j] = float(std::cos(angle));
      t.f32()[p * rot_dim + rot_dim / 2 + j] = float(std::sin(angle));
    }
  }
  return t;
}
}  // namespace

TEST_CASE("rope rotates rotate-half and interleaved pairs of the chosen dims of every head", "[cpu][rope]") {
  std::mt19937 rng(7);
  ThreadPool pool(4);
  struct Case { int64_t heads, head_dim, rot_offset, rot_dim; int interleaved; };
  const Case cases[] = {{4, 16, 0, 16, 0}, {3, 24, 8, 16, 1}, {1, 8, 0, 8, 1}, {2, 12, 2, 6, 0}};
  for (const Case& c : cases) {
    const int64_t cap = 4, rows = 3, start = 5, width = c.heads * c.head_dim;
    Tensor table = make_table(16, c.rot_dim);
    auto xv = random_values(rng, size_t(cap * width));
    Tensor x = f32_tensor({cap, width}, xv);
    Call call;
    call.operands = {x.view, table.view};
    call.iparams = {c.heads, c.head_dim, c.rot_offset, c.rot_dim, c.interleaved};
    REQUIRE(run_kernel("rope_f32", call, step_of(rows, start), &pool).ok());
    std::vector<double> want(xv.begin(), xv.end());
    for (int64_t t = 0; t < rows; ++t) {
      for (int64_t h = 0; h < c.heads; ++h) {
        const int64_t o = t * width + h * c.head_dim + c.rot_offset;
        for (int64_t j = 0; j < c.rot_dim / 2; ++j) {
          const double angle = double(start + t) * std::pow(10000.0, -2.0 * double(j) / double(c.rot_dim));
          const int64_t i0 = c.interleaved ? o + 2 * j : o + j;
          const int64_t i1 = c.interleaved ? o + 2 * j + 1 : o + j + c.rot_dim / 2;
          const double x0 = xv[size_t(i0)], x1 = xv[size_t(i1)];
          want[size_t(i0)] = x0 * std::cos(angle) - x1 * std::sin(angle);
          want[size_t(i1)] = x1 * std::cos(angle) + x0 * std::sin(angle);
        }
      }
    }
    INFO("heads " << c.heads << " head_dim " << c.head_dim << " offset " << c.rot_offset << " interleaved " << c.interleaved);
    expect_close(x.values(), want, 1e-6, {}, 1e-6);
  }
}

TEST_CASE("rope returns out_of_range for a position past the table and writes nothing", "[cpu][rope]") {
  std::mt19937 rng(8);
  Tensor table = make_table(8, 4);
  auto xv = random_values(rng, 2 * 4);
  Tensor x = f32_tensor({2, 4}, xv);
  Call call;
  call.operands = {x.view, table.view};
  call.iparams = {1, 4, 0, 4, 0};
  Status s = run_kernel("rope_f32", call, step_of(2, 7), nullptr);
  CHECK(s.code() == StatusCode::out_of_range);
  CHECK(s.message().find("position 8") != std::string::npos);
  CHECK(x.values() == xv);
  CHECK(run_kernel("rope_f32", call, step_of(1, -1), nullptr).code() == StatusCode::out_of_range);
}
