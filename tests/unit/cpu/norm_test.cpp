// rms_norm_f32 against a double-precision reference, out of place and in place.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {
std::vector<double> reference(const std::vector<float>& x, const std::vector<float>& w, int64_t rows, int64_t h, double eps) {
  std::vector<double> out(size_t(rows * h));
  for (int64_t t = 0; t < rows; ++t) {
    double ss = 0;
    for (int64_t i = 0; i < h; ++i) ss += double(x[size_t(t * h + i)]) * x[size_t(t * h + i)];
    const double inv = 1.0 / std::sqrt(ss / double(h) + eps);
    for (int64_t i = 0; i < h; ++i) out[size_t(t * h + i)] = double(w[size_t(i)]) * x[size_t(t * h + i)] * inv;
  }
  return out;
}
}  // namespace

TEST_CASE("rms_norm matches the reference out of place and in place, for several widths and eps", "[cpu][norm]") {
  std::mt19937 rng(3);
  ThreadPool pool(4);
  for (int64_t h : {1, 7, 64, 513}) {
    for (float eps : {1e-6f, 1e-5f, 0.5f}) {
      const int64_t cap = 5, rows = 4;
      auto xv = random_values(rng, size_t(cap * h), -3.0f, 3.0f);
      auto wv = random_values(rng, size_t(h), 0.5f, 1.5f);
      const auto want = reference(xv, wv, rows, h, eps);
      Tensor x = f32_tensor({cap, h}, xv), w = f32_tensor({h}, wv), out(DType::f32, {cap, h});
      Call call;
      call.operands = {x.view, w.view, out.view};
      call.fparams = {eps};
      REQUIRE(run_kernel("rms_norm_f32", call, step_of(rows), &pool).ok());
      INFO("H " << h << " eps " << eps);
      expect_close(out.values(), want, 1e-5, {});
      call.operands = {x.view, w.view, x.view};
      REQUIRE(run_kernel("rms_norm_f32", call, step_of(rows), &pool).ok());
      expect_close(x.values(), want, 1e-5, {});
      CHECK(x.f32()[rows * h] == xv[size_t(rows * h)]);  // the row past n_tokens is untouched
    }
  }
}
