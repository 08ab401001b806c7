// The argmax kernel of device-side greedy sampling (see gpu_argmax.h).
#include "gpu_argmax.h"

#include <cmath>

#include "vendor.h"

namespace dse::runtime {

namespace {

constexpr int kThreads = 1024;
// Reductions run in 32-lane logical warps (vendor.h): on a wave64 AMD GPU a wave holds two, and
// `width = kLanes` keeps every shuffle inside one.
constexpr int kLanes = gpu::kLanes;

// (v, i) beats (bv, bi): larger value, or equal value and lower index (the CPU sampler's rule).
__device__ __forceinline__ bool beats(float v, int32_t i, float bv, int32_t bi) {
  return v > bv || (v == bv && i < bi);
}

// The best (value, index) pair of the logical warp, in every lane.
__device__ __forceinline__ void warp_argmax(float& best, int32_t& best_i) {
  for (int off = 16; off > 0; off >>= 1) {
    const float ov = __shfl_xor_sync(0xffffffffu, best, off, kLanes);
    const int32_t oi = __shfl_xor_sync(0xffffffffu, best_i, off, kLanes);
    if (beats(ov, oi, best, best_i)) {
      best = ov;
      best_i = oi;
    }
  }
}

// One block per row: row r of logits [rows, n] -> out[r].
__global__ void __launch_bounds__(kThreads) argmax_f32_kernel(const float* __restrict__ logits, int64_t n,
                                                               int32_t* __restrict__ out) {
  logits += int64_t(blockIdx.x) * n;
  out += blockIdx.x;
  float best = -INFINITY;
  int32_t best_i = INT32_MAX;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    float v = logits[i];
    if (isnan(v)) v = -INFINITY;
    if (beats(v, int32_t(i), best, best_i)) {
      best = v;
      best_i = int32_t(i);
    }
  }
  // Warp, then block reduction of (value, index) pairs.
  warp_argmax(best, best_i);
  __shared__ float s_v[kThreads / kLanes];
  __shared__ int32_t s_i[kThreads / kLanes];
  const int warp = int(threadIdx.x) / kLanes;
  const int lane = int(threadIdx.x) % kLanes;
  if (lane == 0) {
    s_v[warp] = best;
    s_i[warp] = best_i;
  }
  __syncthreads();
  if (warp == 0) {
    best = s_v[lane];
    best_i = s_i[lane];
    warp_argmax(best, best_i);
    if (lane == 0) *out = best_i == INT32_MAX ? 0 : best_i;
  }
}

}  // namespace

cudaError_t launch_argmax_f32(const float* d_logits, int64_t n, int32_t* d_out, cudaStream_t stream) {
  return launch_argmax_rows_f32(d_logits, n, 1, d_out, stream);
}

cudaError_t launch_argmax_rows_f32(const float* d_logits, int64_t n, int64_t rows, int32_t* d_out,
                                   cudaStream_t stream) {
  if (rows <= 0) return cudaSuccess;
  argmax_f32_kernel<<<unsigned(rows), kThreads, 0, stream>>>(d_logits, n, d_out);
  return cudaGetLastError();
}

cudaError_t argmax_kernel_runs_here() {
  cudaFuncAttributes attr;
  return cudaFuncGetAttributes(&attr, reinterpret_cast<const void*>(&argmax_f32_kernel));
}

}  // namespace dse::runtime
