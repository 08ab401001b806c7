// matmul_f32_<w>: columns of the output are split over threads; weight rows are read once per
// tile of 8 columns and reused for every token of the call.
#include "dse/cpu/matmul.h"

#include "kernel_support.h"

namespace dse::cpu {

template <WeightFormat F>
Status matmul_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& x = call.operands[0];
  const TensorView& w = call.operands[1];
  const TensorView* scales = has_scale_slot(F) ? &call.operands[2] : nullptr;
  const bool has_bias = call.iparams[0] != 0;
  const float* bias = has_bias ? data_of<const float>(call.operands[call.n_operands - 2]) : nullptr;
  const TensorView& out = call.operands[call.n_operands - 1];
  const int64_t rows = rows_of(x, step);
  const WeightRows wr = matrix_rows<F>(w, scales);
  const int64_t n_out = wr.n;
  const int64_t k = wr.k;
  const float* xs = data_of<const float>(x);
  float* ys = data_of<float>(out);
  if (rows <= 0) return Status::Ok();
  parallel_for_ranges(pool, 0, n_out, [&](int64_t lo, int64_t hi) {
    constexpr int64_t kTile = 8;
    for (int64_t n0 = lo; n0 < hi; n0 += kTile) {
      const int64_t n1 = n0 + kTile < hi ? n0 + kTile : hi;
      for (int64_t t = 0; t < rows; ++t) {
        const float* xr = xs + t * k;
        float* yr = ys + t * n_out;
        for (int64_t n = n0; n < n1; ++n) {
          float v = dot_row<F>(wr, n, xr);
          yr[n] = bias ? v + bias[n] : v;
        }
      }
    }
  });
  return Status::Ok();
}

template Status matmul_f32<WeightFormat::f32>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status matmul_f32<WeightFormat::f16>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status matmul_f32<WeightFormat::bf16>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status matmul_f32<WeightFormat::w8>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status matmul_f32<WeightFormat::w4>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status matmul_f32<WeightFormat::fp8>(const KernelCall&, const StepInfo&, ThreadPool*);

}  // namespace dse::cpu
