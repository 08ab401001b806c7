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

// Sum over k of x[k] * W[n, k], accumulated in f32 in eight interleaved partial sums (a fixed
// order, so results do not depend on threading). For w4 each group is summed first and then
// multiplied by its scale; for w8/fp8 the row scale multiplies the finished sum.
template <WeightFormat F>
inline float dot_row(const WeightRows& w, int64_t n, const float* x) {
  const int64_t k = w.k;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if constexpr (F == WeightFormat::w4) {
    const uint8_t* row = static_cast<const uint8_t*>(w.data) + n * (k / 2);
    const uint16_t* s = static_cast<const uint16_t*>(w.scales) + n * (k / w.group);
    float total = 0.0f;
    for (int64_t g0 = 0, gi = 0; g0 < k; g0 += w.group, ++gi) {
      float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t kk = g0;
      for (; kk + 8 <= g0 + w.group; kk += 8) {
        for (int j = 0; j < 8; j += 2) {
          uint8_t b = row[(kk + j) / 2];
          part[j] += float(int(b & 0xf) - 8) * x[kk + j];
          part[j + 1] += float(int(b >> 4) - 8) * x[kk + j + 1];
        }
      }
      for (; kk < g0 + w.group; kk += 2) {
        uint8_t b = row[kk / 2];
        part[0] += float(int(b & 0xf) - 8) * x[kk];
        part[1] += float(int(b >> 4) - 8) * x[kk + 1];
      }
      float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
      total += sum * load_f16(s[gi]);
    }
    return total;
  } else {
    int64_t kk = 0;
    auto value = [&](int64_t i) -> float {
      if constexpr (F == WeightFormat::f32) return static_cast<const float*>(w.data)[n * k + i];
      else if constexpr (F == WeightFormat::f16) return load_f16(static_cast<const uint16_t*>(w.data)[n * k + i]);
      else if constexpr (F == WeightFormat::bf16) return load_bf16(static_cast<const uint16_t*>(w.data)[n * k + i]);
      else if constexpr (F == WeightFormat::w8) return float(static_cast<const int8_t*>(w.data)[n * k + i]);
      else return fp8_table()[static_cast<const uint8_t*>(w.data)[n * k + i]];
    };
    for (; kk + 8 <= k; kk += 8) {
      for (int j = 0; j < 8; ++j) acc[j] += value(kk + j) * x[kk + j];
    }
    for (int j = 0; kk < k; ++kk, ++j) acc[j] += value(kk) * x[kk];
    float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    if constexpr (F == WeightFormat::w8 || F == WeightFormat::fp8) {
      sum *= static_cast<const float*>(w.scales)[n];
    }
    return sum;
  }
}

}  // namespace dse::cpu
