// add_f32, silu_mul_f32, last_row_f32.
#include "dse/cpu/elementwise.h"

#include <cstring>

#include "kernel_support.h"

namespace dse::cpu {

Status add_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& a = call.operands[0];
  const int64_t rows = rows_of(a, step);
  const int64_t width = a.shape[1];
  const float* pa = data_of<const float>(a);
  const float* pb = data_of<const float>(call.operands[1]);
  float* po = data_of<float>(call.operands[2]);
  parallel_for_ranges(pool, 0, rows * width, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) po[i] = pa[i] + pb[i];
  });
  return Status::Ok();
}

Status silu_mul_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& gu = call.operands[0];
  const int64_t rows = rows_of(gu, step);
  const int64_t inter = gu.shape[1] / 2;
  const float* src = data_of<const float>(gu);
  float* dst = data_of<float>(call.operands[1]);
  parallel_for_ranges(pool, 0, rows * inter, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t t = i / inter, j = i % inter;
      const float* row = src + t * 2 * inter;
      dst[i] = silu(row[j]) * row[inter + j];
    }
  });
  return Status::Ok();
}

Status last_row_f32(const KernelCall& call, const StepInfo& step, ThreadPool*) {
  const TensorView& x = call.operands[0];
  const int64_t rows = rows_of(x, step);
  if (rows <= 0) {
    return Status(StatusCode::out_of_range,
                  "last_row_f32: the call has no tokens (n_tokens = " + std::to_string(step.n_tokens) +
                      "), so there is no last row to copy; pass at least one token");
  }
  const int64_t width = x.shape[1];
  std::memmove(call.operands[1].data, data_of<const float>(x) + (rows - 1) * width, size_t(width) * 4);
  return Status::Ok();
}

}  // namespace dse::cpu
