// Device helpers shared by every GPU kernel: reading the step from device memory, recording
// run-time errors, warp and block reductions, and conversions of the storage dtypes to f32.
#pragma once

#include <cstdint>
#include <string>

#include "dse/gpu/gpu_launch.h"
#include "dse/targets/kernel_abi.h"
#include "scratch_layout.h"
#include "vendor.h"

namespace dse::gpu {

// Rows this call processes: min(capacity, n_tokens), read from the device-resident step.
__device__ __forceinline__ int64_t step_rows(const StepInfo* step, int64_t capacity) {
  const int64_t n = step->n_tokens;
  return n < 0 ? 0 : (n < capacity ? n : capacity);
}

// True when every row of the step names a valid cache slot and a position in [0, limit), where
// limit is per slot (slot_rows of a cache; the rope table's rows): first_bad_row of
// kernel_abi.h, the CPU kernels' check. Every block of a kernel evaluates the same condition, so
// either all of them write or none does.
__device__ __forceinline__ bool positions_fit(const StepInfo* step, int64_t rows, int64_t limit) {
  return first_bad_row(*step, rows, limit) < 0;
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

// Set in GpuErrorRecord::op when a row names a cache slot outside [0, slots): value is the slot,
// limit the slots, row the row (gpu_error_status words it as the CPU kernels' check_positions).
constexpr int32_t kSlotErrorFlag = 0x100;

// Records why row `bad` (from first_bad_row) failed, as the CPU's check_positions decides it: a
// slot outside [0, slots) (or slots outside [1, kMaxBatch]) is a slot error, anything else the
// row's position against `limit`.
__device__ __forceinline__ void record_position_error(GpuErrorRecord* err, GpuOp op, const StepInfo* step, int64_t bad,
                                                      int64_t limit) {
  if (bad_row_is_slot_error(*step, bad)) {
    if (err == nullptr) return;
    if (atomicCAS(&err->code, 0, int32_t(StatusCode::out_of_range)) == 0) {
      err->op = int32_t(op) | kSlotErrorFlag;
      err->value = row_slot(*step, bad);  // batched: the row itself, which may be past the slots
      err->limit = step->slots;
      err->row = bad;
    }
    return;
  }
  record_error(err, StatusCode::out_of_range, op, row_position(*step, bad), limit, bad);
}

// The position check of kernels that index a table or cache by position: true when every row's
// slot and position are in range (positions_fit); otherwise the error is recorded (once: by thread
// 0 of block (0, 0, 0)) and the kernel must write nothing.
__device__ __forceinline__ bool positions_ok(const StepInfo* step, int64_t rows, int64_t limit, GpuErrorRecord* err,
                                             GpuOp op) {
  const int64_t bad = first_bad_row(*step, rows, limit);
  if (bad < 0) return true;
  if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && threadIdx.x == 0)
    record_position_error(err, op, step, bad, limit);
  return false;
}

// The checks of a prefill attention kernel, which relies on every row of the step being one
// sequence at consecutive positions (GpuStep::one_sequence): a batched step breaks the
// launcher's contract (internal error), a position past the slot is reported as positions_ok
// reports it. False: nothing is written.
__device__ __forceinline__ bool one_sequence_step_ok(const StepInfo* step, int64_t rows, int64_t slot_rows,
                                                     GpuErrorRecord* err, GpuOp op) {
  if (step->batched) {
    if (blockIdx.x == 0 && blockIdx.y == 0 && blockIdx.z == 0 && threadIdx.x == 0)
      record_error(err, StatusCode::internal, op, 0, 0, 0);
    return false;
  }
  return positions_ok(step, rows, slot_rows, err, op);
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

// 1 / rms of n values whose squares sum to sum_sq, as rms_norm_f32 computes it (in double).
__device__ __forceinline__ float rms_inverse(double sum_sq, int64_t n, double eps) {
  return float(1.0 / sqrt(sum_sq / double(n) + eps));
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

// e such that a row whose largest |value| is m, multiplied by 2^-e, stays below 2^14 (headroom for
// f16's 65504) when stored as f16: 0 up to 2^14 and for inf / NaN (those propagate). Powers of two
// are exact, so multiplying the f16 products by 2^e leaves only the f16 rounding.
__device__ __forceinline__ int f16_row_exponent(float m) {
  int e = 0;
  if (m >= 16384.0f && isfinite(m)) {
    frexpf(m, &e);  // m < 2^e
    e -= 14;
  }
  return e;
}

// Host side: the Status for a failed launch (or an earlier asynchronous error on the stream).
Status launch_status(const char* kernel);

// env_is (the DSE_GPU_* switches): scratch_layout.h.

// ceil_div and align_up: scratch_layout.h (host and device).

}  // namespace dse::gpu
