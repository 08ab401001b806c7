// rms_norm_f32: one row per task; the whole row is read before any of it is written (in place is safe).
#include "dse/cpu/norm.h"

#include <cmath>

#include "kernel_support.h"

namespace dse::cpu {

Status rms_norm_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& x = call.operands[0];
  const float* w = data_of<const float>(call.operands[1]);
  const TensorView& out = call.operands[2];
  const int64_t rows = rows_of(x, step);
  const int64_t h = x.shape[1];
  const double eps = call.fparams[0];
  const float* src = data_of<const float>(x);
  float* dst = data_of<float>(out);
  parallel_for(pool, 0, rows, [&](int64_t t) {
    const float* xr = src + t * h;
    double sum = 0.0;
    for (int64_t i = 0; i < h; ++i) sum += double(xr[i]) * double(xr[i]);
    const float inv = float(1.0 / std::sqrt(sum / double(h) + eps));
    float* o = dst + t * h;
    for (int64_t i = 0; i < h; ++i) o[i] = w[i] * (xr[i] * inv);
  });
  return Status::Ok();
}

}  // namespace dse::cpu
