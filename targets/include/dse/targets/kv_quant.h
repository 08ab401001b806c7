// Quantized KV caches (--kv-precision int8 / fp8): how one group of a cache row becomes bytes
// plus one F32 scale, and back. docs/KERNELS.md ("Quantized KV caches") is the contract; the CPU
// kernels, the GPU kernels and the tests all follow these functions, so that a row stored by one
// backend reads back the same on another.
//
//   amax  = max |v| over the group           (0 for an all-zero group)
//   scale = amax / qmax                      (qmax 127 for I8, 448 for FP8E4M3)
//   inv   = amax > 0 ? qmax / amax : 0
//   q     = I8: round_half_even(v * inv), clamped to [-127, 127]
//           FP8E4M3: e4m3(v * inv), round to nearest even, saturating at +-448
//   value = q * scale
#pragma once

#include <cmath>
#include <cstdint>

#include "dse/targets/dtype_convert.h"
#include "dse/targets/kernel_abi.h"

namespace dse {

// True for the cache dtypes that carry a scale slot (I8, FP8E4M3).
constexpr bool is_quantized_cache(DType d) { return d == DType::i8 || d == DType::fp8e4m3; }

// The largest quantized magnitude of a cache dtype: what max|v| of a group maps to.
constexpr float kv_quant_max(DType d) { return d == DType::i8 ? 127.0f : 448.0f; }

// The multiplier that maps a group with max |v| = amax onto [-qmax, qmax] (0 for amax = 0).
inline float kv_quant_inverse(float amax, float qmax) { return amax > 0.0f ? qmax / amax : 0.0f; }

inline int8_t kv_quantize_i8(float v, float inv) {
  float q = std::nearbyint(v * inv);  // default rounding mode: nearest even
  q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
  return int8_t(q);
}

inline uint8_t kv_quantize_fp8(float v, float inv) { return f32_to_fp8e4m3(v * inv); }

// Quantizes `n` values into `dst` (I8 or FP8E4M3 bytes) and returns the group's scale.
inline float kv_quantize_group(const float* v, int64_t n, DType dtype, void* dst) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(v[i]));
  const float qmax = kv_quant_max(dtype);
  const float inv = kv_quant_inverse(amax, qmax);
  if (dtype == DType::i8) {
    int8_t* q = static_cast<int8_t*>(dst);
    for (int64_t i = 0; i < n; ++i) q[i] = kv_quantize_i8(v[i], inv);
  } else {
    uint8_t* q = static_cast<uint8_t*>(dst);
    for (int64_t i = 0; i < n; ++i) q[i] = kv_quantize_fp8(v[i], inv);
  }
  return amax / qmax;
}

}  // namespace dse
