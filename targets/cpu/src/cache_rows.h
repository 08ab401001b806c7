// Reading KV cache rows of any cache dtype (F32, F16, I8, FP8E4M3): the kernels are templated on
// the kind of each cache so that the inner loops have no dtype branch, and the scale of a
// quantized cache row (docs/KERNELS.md, "Quantized KV caches") multiplies a finished dot product
// or the softmax weight of that row rather than every element.
#pragma once

#include <cstdint>
#include <type_traits>

#include "dse/targets/kernel_abi.h"
#include "dse/targets/kv_quant.h"
#include "weight_rows.h"

namespace dse::cpu {

enum class CacheKind { f32, f16, i8, fp8 };

constexpr CacheKind cache_kind(DType d) {
  switch (d) {
    case DType::f16: return CacheKind::f16;
    case DType::i8: return CacheKind::i8;
    case DType::fp8e4m3: return CacheKind::fp8;
    default: return CacheKind::f32;
  }
}

// The conversion tables as plain pointers: a load per element instead of a call to f16_table() /
// fp8_table(), which halved the attention kernels' decode speed.
inline const float* const kF16CacheValues = f16_table();
inline const float* const kFp8CacheValues = fp8_table();

// Element i of a cache, before the row scale (the value itself for F32/F16).
template <CacheKind K>
inline float cache_raw(const void* data, int64_t i) {
  if constexpr (K == CacheKind::f16) return kF16CacheValues[static_cast<const uint16_t*>(data)[i]];
  else if constexpr (K == CacheKind::i8) return float(static_cast<const int8_t*>(data)[i]);
  else if constexpr (K == CacheKind::fp8) return kFp8CacheValues[static_cast<const uint8_t*>(data)[i]];
  else return static_cast<const float*>(data)[i];
}

// Calls f(std::integral_constant<CacheKind, K>{}) for the kind of `d`.
template <typename F>
inline void with_cache_kind(DType d, F&& f) {
  switch (cache_kind(d)) {
    case CacheKind::f16: return f(std::integral_constant<CacheKind, CacheKind::f16>{});
    case CacheKind::i8: return f(std::integral_constant<CacheKind, CacheKind::i8>{});
    case CacheKind::fp8: return f(std::integral_constant<CacheKind, CacheKind::fp8>{});
    case CacheKind::f32: return f(std::integral_constant<CacheKind, CacheKind::f32>{});
  }
}

// A cache operand of a call and, for a quantized cache, its F32 [S, groups] scale slot (the
// operand right after it; the loader checked that it is there).
struct CacheOperand {
  const TensorView* cache = nullptr;
  float* scales = nullptr;  // null for F32/F16 caches; kv_store writes it
  int64_t groups = 1;

  // Scale of group g at position pos (1 for F32/F16 caches).
  float scale(int64_t pos, int64_t g) const { return scales ? scales[pos * groups + g] : 1.0f; }
};

// The cache at operands[index] (and its scales); advances `index` past both.
inline CacheOperand take_cache_operand(const KernelCall& call, uint32_t& index) {
  CacheOperand c;
  c.cache = &call.operands[index++];
  if (is_quantized_cache(c.cache->dtype)) {
    const TensorView& s = call.operands[index++];
    c.scales = static_cast<float*>(s.data);
    c.groups = s.shape[1];
  }
  return c;
}

}  // namespace dse::cpu
