// Device helpers shared by every GPU kernel: reading the step from device memory, recording
// run-time errors, warp and block reductions, and conversions of the storage dtypes to f32.
#pragma once

#include <cstdint>
#include <string>

#include "dse/gpu/gpu_launch.h"
#include "dse/targets/kernel_abi.h"
#include "vendor.h"

namespace dse::gpu {

// Rows this call processes: min(capacity, n_tokens), read from the device-resident step.
__device__ __forceinline__ int64_t step_rows(const StepInfo* step, int64_t capacity) {
  const int64_t n = step->n_tokens;
  return n < 0 ? 0 : (n < capacity ? n : capacity);
}

// True when positions start_pos .. start_pos + rows - 1 all lie in [0, capacity). Every block of
// a kernel evaluates the same condition, so either all of them write or none does.
__device__ __forceinline__ bool positions_fit(const StepInfo* step, int64_t rows, int64_t capacity) {
  if (rows <= 0) return true;
  const int64_t start = step->start_pos;
  return start >= 0 && start + rows - 1 < capacity;
}

// The offending position for an error message: start_pos if negative, else the last one.
__device__ __forceinline__ int64_t bad_position(const StepInfo* step, int64_t rows) {
  return step->start_pos < 0 ? step->start_pos : step->start_pos + rows - 1;
}

// First writer wins; later errors of the same step are dropped (the CPU backend also stops at
// the first). The record's other fields are written after the code is claimed; the executor
// reads them only after the stream has finished.
__device__ __forceinline__ void record_error(GpuErrorRecord* err, StatusCode code, GpuOp op, int64_t value,
                                             int64_t limit, int64_t row) {
  if (err == nullptr) return;
  if (atomicCAS(&err->code, 0, int32_t(code)) == 0) {
    err->op = int32_t(op);
    err->value = value;
    err->limit = limit;
    err->row = row;
  }
}

// The position check of kernels that index a table or cache by position: true when start_pos ..
// start_pos + rows - 1 all lie in [0, limit); otherwise the error is recorded (once: by thread 0
// of block (0, 0, 0)) and the kernel must write nothing.
__device__ __forceinline__ bool positions_ok(const StepInfo* step, int64_t rows, int64_t limit, GpuErrorRecord* err,
                                             GpuOp op) {
  if (positions_fit(step, rows, limit)) return true;
  if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && threadIdx.x == 0)
    record_error(err, StatusCode::out_of_range, op, bad_position(step, rows), limit, 0);
  return false;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int m = kLanes / 2; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m, kLanes);
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
  for (int m = kLanes / 2; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m, kLanes);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int m = kLanes / 2; m > 0; m >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, m, kLanes));
  return v;
}

// Block-wide sum / max; every thread gets the result. `scratch` holds one value per logical warp
// (blockDim.x / 32 <= 32). Contains __syncthreads: call from all threads of the block.
template <typename T>
__device__ __forceinline__ T block_sum(T v, T* scratch) {
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes, n_warps = blockDim.x / kLanes;
  v = warp_sum(v);
  __syncthreads();  // scratch may still be read by a previous reduction
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = 0;
  for (int i = 0; i < n_warps; ++i) total += scratch[i];  // fixed order: deterministic
  return total;
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes, n_warps = blockDim.x / kLanes;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  float m = scratch[0];
  for (int i = 1; i < n_warps; ++i) m = fmaxf(m, scratch[i]);
  return m;
}

// Storage dtypes -> f32, bit-exact with dse/targets/dtype_convert.h.
__device__ __forceinline__ float f16_to_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float bf16_to_f32(uint16_t h) { return __uint_as_float(uint32_t(h) << 16); }
// e4m3fn: place sign, exponent and mantissa in an f32 with exponent bias 127, then rescale by
// 2^(127-7); subnormals come out right because the f32 denormal is scaled exactly (no FTZ).
__device__ __forceinline__ float fp8e4m3_to_f32(uint32_t v) {
  if ((v & 0x7fu) == 0x7fu) return __uint_as_float(0x7fc00000u);  // the format's only NaN
  return __uint_as_float(((v & 0x80u) << 24) | ((v & 0x7fu) << 20)) * 0x1p120f;
}

// f32 -> f16 round to nearest even (the cache format), as f32_to_f16 of dtype_convert.h.
__device__ __forceinline__ uint16_t f32_to_f16_bits(float f) { return __half_as_ushort(__float2half_rn(f)); }

// One element of a cache or dense weight in f32 or f16/bf16 storage.
struct F32Storage {
  using type = float;
  static __device__ __forceinline__ float load(const float* p, int64_t i) { return p[i]; }
};
struct F16Storage {
  using type = uint16_t;
  static __device__ __forceinline__ float load(const uint16_t* p, int64_t i) { return f16_to_f32(p[i]); }
};
struct BF16Storage {
  using type = uint16_t;
  static __device__ __forceinline__ float load(const uint16_t* p, int64_t i) { return bf16_to_f32(p[i]); }
};

__device__ __forceinline__ float silu(float x) { return x / (1.0f + expf(-x)); }

// Host side: the Status for a failed launch (or an earlier asynchronous error on the stream).
Status launch_status(const char* kernel);

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace dse::gpu
