// add_f32, silu_mul_f32, last_row_f32: grid-stride loops over the capacity, bounded by the rows
// read from the device step.
#include "elementwise.cuh"

#include <algorithm>

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 256;

// Blocks for `elements` work items: enough to fill the device, capped since the loops stride.
unsigned grid_for(int64_t elements) { return unsigned(std::clamp<int64_t>(ceil_div(elements, kThreads), 1, 4096)); }

__global__ void __launch_bounds__(kThreads) add_kernel(const float* a, const float* b, float* out, int64_t width,
                                                       int64_t cap, const StepInfo* step) {
  grid_dependency_sync();
  const int64_t n = step_rows(step, cap) * width;
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  const int64_t first = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  const bool vec = width % 4 == 0 && ((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b) |
                                       reinterpret_cast<uintptr_t>(out)) % 16) == 0;
  if (vec) {
    for (int64_t i = first; i < n / 4; i += stride) {
      const float4 x = reinterpret_cast<const float4*>(a)[i], y = reinterpret_cast<const float4*>(b)[i];
      reinterpret_cast<float4*>(out)[i] = make_float4(x.x + y.x, x.y + y.y, x.z + y.z, x.w + y.w);
    }
  } else {
    for (int64_t i = first; i < n; i += stride) out[i] = a[i] + b[i];
  }
}

__global__ void __launch_bounds__(kThreads) silu_mul_kernel(const float* gu, float* out, int64_t inter, int64_t cap,
                                                            const StepInfo* step) {
  grid_dependency_sync();
  const int64_t n = step_rows(step, cap) * inter;
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < n; i += stride) {
    const int64_t t = i / inter, j = i % inter;
    const float* row = gu + t * 2 * inter;
    out[i] = silu(row[j]) * row[inter + j];
  }
}

__global__ void __launch_bounds__(kThreads) last_row_kernel(const float* x, float* out, int64_t width, int64_t cap,
                                                            const StepInfo* step, GpuErrorRecord* err) {
  grid_dependency_sync();
  const int64_t rows = step_rows(step, cap);
  if (rows <= 0) {
    if (blockIdx.x == 0 && threadIdx.x == 0)
      record_error(err, StatusCode::out_of_range, GpuOp::last_row, step->n_tokens, 0, 0);
    return;
  }
  const float* src = x + (rows - 1) * width;
  const int64_t stride = int64_t(gridDim.x) * kThreads;
  for (int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x; i < width; i += stride) out[i] = src[i];
}

}  // namespace

Status launch_add_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& a = call.operands[0];
  launch_kernel(add_kernel, grid_for(a.shape[0] * a.shape[1] / 4), kThreads, 0, stream,
                static_cast<const float*>(a.data), static_cast<const float*>(call.operands[1].data),
                static_cast<float*>(call.operands[2].data), a.shape[1], a.shape[0], step.d_step);
  return launch_status("add_f32");
}

Status launch_silu_mul_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& gu = call.operands[0];
  const int64_t inter = gu.shape[1] / 2;
  launch_kernel(silu_mul_kernel, grid_for(gu.shape[0] * inter), kThreads, 0, stream, static_cast<const float*>(gu.data),
                static_cast<float*>(call.operands[1].data), inter, gu.shape[0], step.d_step);
  return launch_status("silu_mul_f32");
}

Status launch_last_row_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& x = call.operands[0];
  // The source row and out never overlap unless out is row 0 of x and rows == 1 (a no-op copy).
  launch_kernel(last_row_kernel, grid_for(x.shape[1]), kThreads, 0, stream, static_cast<const float*>(x.data),
                static_cast<float*>(call.operands[1].data), x.shape[1], x.shape[0], step.d_step, step.d_error);
  return launch_status("last_row_f32");
}

}  // namespace dse::gpu
