// rms_norm_f32: one block per row, sum of squares in double.
#include "norm.cuh"

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 512;  // a 4096-wide row is two float4 per thread, loaded together

// Each thread keeps up to kCached float4 of x in registers between the two passes, so the row is
// read from memory once; wider rows fall back to re-reading x (then from L1/L2).
constexpr int kCached = 2;

__global__ void __launch_bounds__(kThreads) rms_norm_kernel(const float* x, const float* w, float* out, int64_t h,
                                                            double eps, int64_t cap, const StepInfo* step) {
  grid_dependency_sync();
  __shared__ double scratch[kThreads / kLanes];
  const int64_t t = blockIdx.x;
  if (t >= step_rows(step, cap)) return;
  const float* xr = x + t * h;
  float* o = out + t * h;
  const bool vec = h % 4 == 0 && ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(w) |
                                   reinterpret_cast<uintptr_t>(out)) % 16) == 0;
  double sum = 0.0;
  if (vec) {
    const int64_t n4 = h / 4;
    float4 cached[kCached];
#pragma unroll
    for (int c = 0; c < kCached; ++c) {
      const int64_t i = threadIdx.x + int64_t(c) * kThreads;
      cached[c] = i < n4 ? reinterpret_cast<const float4*>(xr)[i] : make_float4(0, 0, 0, 0);
    }
#pragma unroll
    for (int c = 0; c < kCached; ++c) {
      const float4 v = cached[c];
      sum += double(v.x) * double(v.x) + double(v.y) * double(v.y) + double(v.z) * double(v.z) +
             double(v.w) * double(v.w);
    }
    for (int64_t i = threadIdx.x + int64_t(kCached) * kThreads; i < n4; i += kThreads) {
      const float4 v = reinterpret_cast<const float4*>(xr)[i];
      sum += double(v.x) * double(v.x) + double(v.y) * double(v.y) + double(v.z) * double(v.z) +
             double(v.w) * double(v.w);
    }
    sum = block_sum(sum, scratch);
    const float inv = rms_inverse(sum, h, eps);
#pragma unroll
    for (int c = 0; c < kCached; ++c) {
      const int64_t i = threadIdx.x + int64_t(c) * kThreads;
      if (i < n4) {
        const float4 v = cached[c], g = reinterpret_cast<const float4*>(w)[i];
        reinterpret_cast<float4*>(o)[i] = make_float4(g.x * (v.x * inv), g.y * (v.y * inv), g.z * (v.z * inv),
                                                      g.w * (v.w * inv));
      }
    }
    for (int64_t i = threadIdx.x + int64_t(kCached) * kThreads; i < n4; i += kThreads) {
      const float4 v = reinterpret_cast<const float4*>(xr)[i], g = reinterpret_cast<const float4*>(w)[i];
      reinterpret_cast<float4*>(o)[i] = make_float4(g.x * (v.x * inv), g.y * (v.y * inv), g.z * (v.z * inv),
                                                    g.w * (v.w * inv));
    }
  } else {
    for (int64_t i = threadIdx.x; i < h; i += kThreads) sum += double(xr[i]) * double(xr[i]);
    sum = block_sum(sum, scratch);
    const float inv = rms_inverse(sum, h, eps);
    for (int64_t i = threadIdx.x; i < h; i += kThreads) o[i] = w[i] * (xr[i] * inv);
  }
}

}  // namespace

Status launch_rms_norm_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& x = call.operands[0];
  if (x.shape[0] <= 0) return Status::Ok();
  launch_kernel(rms_norm_kernel, unsigned(x.shape[0]), kThreads, 0, stream, static_cast<const float*>(x.data),
                static_cast<const float*>(call.operands[1].data), static_cast<float*>(call.operands[2].data),
                x.shape[1], double(call.fparams[0]), x.shape[0], step.d_step);
  return launch_status("rms_norm_f32");
}

}  // namespace dse::gpu
