// KV cache storages of the attention kernels: F32 and F16 (common.cuh) and the quantized I8 and
// FP8E4M3 caches of docs/KERNELS.md ("Quantized KV caches"), whose rows carry one F32 scale per
// (position, group) in a scale slot after the cache. Quantization follows
// dse/targets/kv_quant.h operation for operation, so a row stored here reads back bit-identical
// to one stored by the CPU kernel.
#pragma once

#include <cstdint>

#include "common.cuh"
#include "dse/targets/kernel_abi.h"

namespace dse::gpu {

struct I8Storage {
  using type = int8_t;
  static __device__ __forceinline__ float load(const int8_t* p, int64_t i) { return float(p[i]); }
};
struct Fp8Storage {
  using type = uint8_t;
  static __device__ __forceinline__ float load(const uint8_t* p, int64_t i) { return fp8e4m3_to_f32(p[i]); }
};

// Whether rows of storage S are scaled by their scale slot (I8, FP8E4M3) or hold values (F32, F16).
template <typename S> inline constexpr bool kScaledCache = false;
template <> inline constexpr bool kScaledCache<I8Storage> = true;
template <> inline constexpr bool kScaledCache<Fp8Storage> = true;

// Calls f(S{}) with the storage of cache dtype `d` (F32, F16, I8 or FP8E4M3; the loader checked it).
template <typename F>
inline void with_cache_storage(DType d, F&& f) {
  switch (d) {
    case DType::f16: f(F16Storage{}); break;
    case DType::i8: f(I8Storage{}); break;
    case DType::fp8e4m3: f(Fp8Storage{}); break;
    default: f(F32Storage{}); break;
  }
}

// A cache operand of a call and, for a quantized cache, its F32 [S, groups] scale slot (the
// operand right after it).
struct GpuCacheOperand {
  const TensorView* cache = nullptr;
  float* scales = nullptr;  // null for F32/F16 caches
  int64_t groups = 1;
};

// The cache at operands[index] (and its scales); advances `index` past both.
inline GpuCacheOperand take_cache_operand(const KernelCall& call, uint32_t& index) {
  GpuCacheOperand c;
  c.cache = &call.operands[index++];
  if (c.cache->dtype == DType::i8 || c.cache->dtype == DType::fp8e4m3) {
    const TensorView& s = call.operands[index++];
    c.scales = static_cast<float*>(s.data);
    c.groups = s.shape[1];
  }
  return c;
}

// dse::f32_to_fp8e4m3 (dse/targets/dtype_convert.h) on the device: round to nearest even in the
// value's binade, saturating at +-448. Written out rather than taken from cuda_fp8.h so that HIP
// builds get the same bits.
__device__ __forceinline__ uint8_t f32_to_fp8e4m3_bits(float f) {
  if (isnan(f)) return 0x7f;
  const uint8_t sign = signbit(f) ? 0x80 : 0x00;
  const float a = fabsf(f);
  if (a == 0.0f) return sign;
  if (a >= 448.0f) return uint8_t(sign | 0x7e);
  int e;
  frexpf(a, &e);          // a = m * 2^e, m in [0.5, 1)
  int exp = e - 1 + 7;    // biased exponent of a
  if (exp < 1) {          // subnormal range: unit 2^-9
    const float q = rintf(a * 512.0f);
    if (q >= 8.0f) return uint8_t(sign | 0x08);
    return uint8_t(sign | uint8_t(q));
  }
  float q = rintf(a * ldexpf(1.0f, 10 - exp));  // a / unit, unit = 2^(exp-10): exact
  if (q >= 16.0f) { q = 8.0f; exp += 1; }
  if (exp > 15 || (exp == 15 && q > 14.0f)) return uint8_t(sign | 0x7e);
  return uint8_t(sign | uint8_t(exp << 3) | (uint8_t(q) - 8));
}

// dse::kv_quantize_i8 / kv_quantize_fp8 (dse/targets/kv_quant.h).
__device__ __forceinline__ int8_t kv_quantize_i8_dev(float v, float inv) {
  float q = rintf(v * inv);
  q = q > 127.0f ? 127.0f : (q < -127.0f ? -127.0f : q);
  return int8_t(q);
}

}  // namespace dse::gpu
