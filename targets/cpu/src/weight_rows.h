// Reading one row of a weight matrix in any KERNELS.md format: dot products and dequantization.
// Shared by matmul and moe_ffn so that both read the formats the same way.
#pragma once

#include <cstdint>

#include "dse/cpu/weight_format.h"
#include "dse/targets/dtype_convert.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Lookup tables for the 16-bit and 8-bit float formats, filled once on first use (static
// storage, not heap). Identical values to dtype_convert.h by construction.
const float* f16_table();   // 65536 entries
const float* fp8_table();   // 256 entries

inline float load_f16(uint16_t h) { return f16_table()[h]; }
inline float load_bf16(uint16_t h) { return bf16_to_f32(h); }

// A matrix [N, K] of one weight format (one expert's slice for MoE weights). `scales` is null for
// f32/f16/bf16, F32 [N] for w8/fp8, F16 [N, K/group] for w4.
struct WeightRows {
  const void* data = nullptr;
  const void* scales = nullptr;
  int64_t n = 0;
  int64_t k = 0;
  int64_t group = 0;  // w4 only
};

// Expert `e` of an [E, N, K] weight slot (and its [E, ...] scale slot).
template <WeightFormat F>
WeightRows expert_rows(const TensorView& w, const TensorView* scales, int64_t e) {
  WeightRows r;
  r.n = w.shape[1];
  r.k = w.shape[2];
  r.group = w.group_size;
  int64_t elems = r.n * r.k;
  r.data = static_cast<const uint8_t*>(w.data) + dtype_bytes(weight_dtype(F), elems) * e;
  if constexpr (has_scale_slot(F)) {
    int64_t per_expert = F == WeightFormat::w4 ? r.n * (r.k / r.group) : r.n;
    r.scales = static_cast<const uint8_t*>(scales->data) + dtype_bytes(scale_dtype(F), per_expert) * e;
  }
  return r;
}

template <WeightFormat F>
WeightRows matrix_rows(const TensorView& w, const TensorView* scales) {
  WeightRows r;
  r.data = w.data;
  r.scales = scales ? scales->data : nullptr;
  r.n = w.shape[0];
  r.k = w.shape[1];
  r.group = w.group_size;
  return r;
}

// Widens w[n, k0 .. k0 + len) to f32 into out, without the per-row or per-group scale (len even
// for w4, and k0 even).
template <WeightFormat F>
inline void decode_chunk(const WeightRows& w, int64_t n, int64_t k0, int64_t len, float* out) {
  const int64_t base = n * w.k + k0;
  if constexpr (F == WeightFormat::f32) {
    const float* src = static_cast<const float*>(w.data) + base;
    for (int64_t i = 0; i < len; ++i) out[i] = src[i];
  } else if constexpr (F == WeightFormat::f16) {
    const uint16_t* src = static_cast<const uint16_t*>(w.data) + base;
    const float* table = f16_table();
    for (int64_t i = 0; i < len; ++i) out[i] = table[src[i]];
  } else if constexpr (F == WeightFormat::bf16) {
    const uint16_t* src = static_cast<const uint16_t*>(w.data) + base;
    for (int64_t i = 0; i < len; ++i) out[i] = load_bf16(src[i]);
  } else if constexpr (F == WeightFormat::w8) {
    const int8_t* src = static_cast<const int8_t*>(w.data) + base;
    for (int64_t i = 0; i < len; ++i) out[i] = float(src[i]);
  } else if constexpr (F == WeightFormat::fp8) {
    const uint8_t* src = static_cast<const uint8_t*>(w.data) + base;
    const float* table = fp8_table();
    for (int64_t i = 0; i < len; ++i) out[i] = table[src[i]];
  } else {
    const uint8_t* src = static_cast<const uint8_t*>(w.data) + base / 2;
    for (int64_t i = 0; i < len / 2; ++i) {
      out[2 * i] = float(int(src[i] & 0xf) - 8);
      out[2 * i + 1] = float(int(src[i] >> 4) - 8);
    }
  }
}

// acc[j] += sum over i = j (mod 8) of a[i] * b[i], i < len: eight interleaved partial sums, a
// fixed order that does not depend on threading, and a shape compilers vectorise.
inline void dot_accumulate(const float* a, const float* b, int64_t len, float* acc) {
  int64_t i = 0;
  for (; i + 8 <= len; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (int j = 0; i < len; ++i, ++j) acc[j] += a[i] * b[i];
}

inline float sum8(const float* acc) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Sum over k of x[k] * W[n, k], accumulated in f32. Weights are widened 64 at a time into a
// stack buffer. For w4 each group is summed first and then multiplied by its f16 scale; for
// w8/fp8 the row scale multiplies the finished sum.
template <WeightFormat F>
inline float dot_row(const WeightRows& w, int64_t n, const float* x) {
  constexpr int64_t kChunk = 64;
  float buf[kChunk];
  if constexpr (F == WeightFormat::w4) {
    const uint16_t* scales = static_cast<const uint16_t*>(w.scales) + n * (w.k / w.group);
    float total = 0.0f;
    for (int64_t g0 = 0, gi = 0; g0 < w.k; g0 += w.group, ++gi) {
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t k0 = g0; k0 < g0 + w.group; k0 += kChunk) {
        const int64_t len = g0 + w.group - k0 < kChunk ? g0 + w.group - k0 : kChunk;
        decode_chunk<F>(w, n, k0, len, buf);
        dot_accumulate(buf, x + k0, len, part);
      }
      total += sum8(part) * load_f16(scales[gi]);
    }
    return total;
  } else {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if constexpr (F == WeightFormat::f32) {
      dot_accumulate(static_cast<const float*>(w.data) + n * w.k, x, w.k, acc);
    } else {
      for (int64_t k0 = 0; k0 < w.k; k0 += kChunk) {
        const int64_t len = w.k - k0 < kChunk ? w.k - k0 : kChunk;
        decode_chunk<F>(w, n, k0, len, buf);
        dot_accumulate(buf, x + k0, len, acc);
      }
    }
    float sum = sum8(acc);
    if constexpr (F == WeightFormat::w8 || F == WeightFormat::fp8) sum *= static_cast<const float*>(w.scales)[n];
    return sum;
  }
}

}  // namespace dse::cpu
