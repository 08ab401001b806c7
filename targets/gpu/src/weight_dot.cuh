// Warp-level dot products of weight rows (any KERNELS.md weight format) with f32 activations:
// the inner loop of matmul (GEMV) and moe_ffn. Weights are read once, 16 bytes per lane per load,
// several loads in flight, dequantized in registers; each lane accumulates its share of k and
// the caller finishes with warp_sum.
#pragma once

#include <cstdint>

#include "common.cuh"
#include "dse/cpu/weight_format.h"

namespace dse::gpu {

using cpu::WeightFormat;

// Elements per 16-byte weight vector and bits per element, per format.
template <WeightFormat F> struct Fmt;
template <> struct Fmt<WeightFormat::f32>  { static constexpr int kPerVec = 4;  static constexpr int kBits = 32; };
template <> struct Fmt<WeightFormat::f16>  { static constexpr int kPerVec = 8;  static constexpr int kBits = 16; };
template <> struct Fmt<WeightFormat::bf16> { static constexpr int kPerVec = 8;  static constexpr int kBits = 16; };
template <> struct Fmt<WeightFormat::w8>   { static constexpr int kPerVec = 16; static constexpr int kBits = 8; };
template <> struct Fmt<WeightFormat::fp8>  { static constexpr int kPerVec = 16; static constexpr int kBits = 8; };
template <> struct Fmt<WeightFormat::w4>   { static constexpr int kPerVec = 32; static constexpr int kBits = 4; };

// Where the rows of one weight slot live: `data` is row-major [rows, K] in format F (rows of all
// experts back to back for MoE), `scales` the scale slot (F16 [rows, K/group] for w4, F32 [rows]
// for w8/fp8, null otherwise).
struct WeightMatrix {
  const uint8_t* data = nullptr;
  const void* scales = nullptr;
  int64_t k = 0;
  int32_t group = 0;
  // w4, 16-byte path: vector v is in scale group v >> group_shift (32 nibbles per vector). Set
  // by set_group; -1 when group / 32 is not a power of two (then v / (group / 32) is used), so
  // the common groups 32 / 64 / 128 cost a shift instead of a division per vector.
  int32_t group_shift = -1;
};

inline void set_group(WeightMatrix& w, int64_t group) {
  w.group = int32_t(group);
  w.group_shift = -1;
  if (group > 0 && group % 32 == 0) {
    const int64_t vpg = group / 32;
    if ((vpg & (vpg - 1)) == 0) {
      int s = 0;
      while ((int64_t(1) << s) < vpg) ++s;
      w.group_shift = s;
    }
  }
}

template <WeightFormat F>
__host__ __device__ __forceinline__ int64_t row_bytes(int64_t k) { return k * Fmt<F>::kBits / 8; }

__device__ __forceinline__ uint32_t vec_word(const uint4& v, int i) {
  return i == 0 ? v.x : (i == 1 ? v.y : (i == 2 ? v.z : v.w));
}

// Integer -> f32 without an int->float convert (I2F runs at a quarter of the FP32 rate and made
// the w8 and w4 GEMVs ALU-bound): byte k of `bytes` is placed under the exponent of 2^23 with one
// PRMT, giving 2^23 + byte exactly; one FADD then removes 2^23 + bias. Exact for bytes 0..255.
__device__ __forceinline__ float byte_value(uint32_t bytes, int k, float bias) {
  return __uint_as_float(__byte_perm(bytes, 0x4b000000u, 0x7540u | uint32_t(k))) - (8388608.0f + bias);
}

// Elements 4j .. 4j+3 of a 16-byte weight vector, as f32 (before the scale). J must be a
// compile-time constant after unrolling (it selects registers).
template <WeightFormat F>
__device__ __forceinline__ void decode4(const uint4& v, int j, float (&o)[4]) {
  if constexpr (F == WeightFormat::f32) {
    o[0] = __uint_as_float(v.x); o[1] = __uint_as_float(v.y);
    o[2] = __uint_as_float(v.z); o[3] = __uint_as_float(v.w);
  } else if constexpr (F == WeightFormat::f16) {
    const uint32_t a = vec_word(v, 2 * j), b = vec_word(v, 2 * j + 1);
    o[0] = f16_to_f32(uint16_t(a & 0xffffu)); o[1] = f16_to_f32(uint16_t(a >> 16));
    o[2] = f16_to_f32(uint16_t(b & 0xffffu)); o[3] = f16_to_f32(uint16_t(b >> 16));
  } else if constexpr (F == WeightFormat::bf16) {
    const uint32_t a = vec_word(v, 2 * j), b = vec_word(v, 2 * j + 1);
    o[0] = __uint_as_float(a << 16); o[1] = __uint_as_float(a & 0xffff0000u);
    o[2] = __uint_as_float(b << 16); o[3] = __uint_as_float(b & 0xffff0000u);
  } else if constexpr (F == WeightFormat::w8) {
    const uint32_t a = vec_word(v, j) ^ 0x80808080u;  // int8 q -> unsigned q + 128
#pragma unroll
    for (int i = 0; i < 4; ++i) o[i] = byte_value(a, i, 128.0f);
  } else if constexpr (F == WeightFormat::fp8) {
    const uint32_t a = vec_word(v, j);
#pragma unroll
    for (int i = 0; i < 4; ++i) o[i] = fp8e4m3_to_f32((a >> (8 * i)) & 0xffu);
  } else {  // w4: bytes 2j, 2j+1 of the vector; low nibble = even k
    const uint32_t a = vec_word(v, j / 2);
    const uint32_t lo = a & 0x0f0f0f0fu, hi = (a >> 4) & 0x0f0f0f0fu;  // shared by j and j+1 (CSE)
    const int b = 2 * (j % 2);
    o[0] = byte_value(lo, b, 8.0f);
    o[1] = byte_value(hi, b, 8.0f);
    o[2] = byte_value(lo, b + 1, 8.0f);
    o[3] = byte_value(hi, b + 1, 8.0f);
  }
}

// The per-row scale that multiplies a finished dot product: w8/fp8 rows; 1 otherwise.
template <WeightFormat F>
__device__ __forceinline__ float row_scale(const WeightMatrix& w, int64_t row) {
  if constexpr (F == WeightFormat::w8 || F == WeightFormat::fp8) return static_cast<const float*>(w.scales)[row];
  else return 1.0f;
}

// Where a lane's activations come from. The plain source reads TB rows of x; a fused kernel
// passes its own (matmul.cu: the rms_norm prologue), whose load() may also accumulate state.
// load(t, k, live) returns x_t[k .. k+3]; `live` is false for the padding vectors of the last
// pass (their products are discarded).
template <int TB>
struct RowsOfX {
  const float* xt[TB];
  // Tokens t >= n_tok reuse the last valid row (their results are discarded by the caller), which
  // keeps the loop branch-free.
  __device__ __forceinline__ RowsOfX(const float* x, int64_t x_stride, int n_tok) {
#pragma unroll
    for (int t = 0; t < TB; ++t) xt[t] = x + int64_t(t < n_tok ? t : n_tok - 1) * x_stride;
  }
  __device__ __forceinline__ float4 load(int t, int64_t k, bool) const { return load_shared16(xt[t] + k); }
};

// Lane's share of sum_k W[rows[r], k] * x_t[k] for R rows and TB tokens, 16-byte path.
// Requires K % kPerVec == 0, 16-byte aligned row starts and x rows (x_stride % 4 == 0), and for
// w4 group % 32 == 0 (a vector never straddles two scale groups).
// U vectors per row are loaded before the first is used: R * U 16-byte loads in flight per lane.
template <WeightFormat F, int R, int TB, int U, class X>
__device__ __forceinline__ void lane_dot_vec_from(const WeightMatrix& w, const int64_t (&rows)[R], X& xs, int lane,
                                                  float (&acc)[R][TB]) {
  constexpr int kPer = Fmt<F>::kPerVec;
  const int64_t nvec = w.k / kPer;
  const int64_t rb = row_bytes<F>(w.k);
  const int64_t groups = F == WeightFormat::w4 ? w.k / w.group : 0;  // scales per row
  for (int64_t v0 = lane; v0 < nvec; v0 += int64_t(kLanes) * U) {
    uint4 wv[U][R];
    float sc[U][R];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = v0 + int64_t(u) * kLanes;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        // The address stays inside the row even for a dead vector, should the load ever be hoisted
        // above the v < nvec test (compute-sanitizer caught one reading past the end of an lm_head
        // when load_stream16's asm was not volatile).
        wv[u][r] = v < nvec ? load_stream16(w.data + rows[r] * rb + (v < nvec ? v : nvec - 1) * 16)
                            : make_uint4(0, 0, 0, 0);
        if constexpr (F == WeightFormat::w4) {
          const int64_t gi = w.group_shift >= 0 ? (v >> w.group_shift) : int64_t(uint32_t(v) / uint32_t(w.group / 32));
          sc[u][r] = v < nvec ? f16_to_f32(static_cast<const uint16_t*>(w.scales)[rows[r] * groups + gi]) : 0.0f;
        }
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = v0 + int64_t(u) * kLanes;
      // Not `break`: a loop left early is not fully unrolled, and wv[u] would move to local memory.
      const int64_t k0 = (v < nvec ? v : v0) * kPer;
      const bool live = v < nvec;
      float part[R][TB];
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < TB; ++t) part[r][t] = 0.0f;
#pragma unroll
      for (int j = 0; j < kPer / 4; ++j) {
        float4 xv[TB];
#pragma unroll
        for (int t = 0; t < TB; ++t) xv[t] = xs.load(t, k0 + 4 * j, live);
#pragma unroll
        for (int r = 0; r < R; ++r) {
          float q[4];
          decode4<F>(wv[u][r], j, q);
#pragma unroll
          for (int t = 0; t < TB; ++t) {
            part[r][t] = fmaf(q[0], xv[t].x, part[r][t]);
            part[r][t] = fmaf(q[1], xv[t].y, part[r][t]);
            part[r][t] = fmaf(q[2], xv[t].z, part[r][t]);
            part[r][t] = fmaf(q[3], xv[t].w, part[r][t]);
          }
        }
      }
#pragma unroll
      for (int r = 0; r < R; ++r)
#pragma unroll
        for (int t = 0; t < TB; ++t) {
          const float p = live ? part[r][t] : 0.0f;
          if constexpr (F == WeightFormat::w4) acc[r][t] = fmaf(p, sc[u][r], acc[r][t]);
          else acc[r][t] += p;
        }
    }
  }
}

// The same over TB rows of x (row t at x + t * x_stride).
template <WeightFormat F, int R, int TB, int U>
__device__ __forceinline__ void lane_dot_vec(const WeightMatrix& w, const int64_t (&rows)[R], const float* x,
                                             int64_t x_stride, int n_tok, int lane, float (&acc)[R][TB]) {
  RowsOfX<TB> xs(x, x_stride, n_tok);
  lane_dot_vec_from<F, R, TB, U>(w, rows, xs, lane, acc);
}

// One element W[row, k] before the row scale (w4: with its group scale), for the scalar path.
template <WeightFormat F>
__device__ __forceinline__ float weight_at(const WeightMatrix& w, int64_t row, int64_t k) {
  const uint8_t* base = w.data + row * row_bytes<F>(w.k);
  if constexpr (F == WeightFormat::f32) return reinterpret_cast<const float*>(base)[k];
  else if constexpr (F == WeightFormat::f16) return f16_to_f32(reinterpret_cast<const uint16_t*>(base)[k]);
  else if constexpr (F == WeightFormat::bf16) return bf16_to_f32(reinterpret_cast<const uint16_t*>(base)[k]);
  else if constexpr (F == WeightFormat::w8) return float(int8_t(base[k]));
  else if constexpr (F == WeightFormat::fp8) return fp8e4m3_to_f32(base[k]);
  else {
    const uint32_t b = base[k / 2];
    const float q = float(int((k & 1) ? (b >> 4) : (b & 0xfu)) - 8);
    const int64_t groups = w.k / w.group;
    return q * f16_to_f32(static_cast<const uint16_t*>(w.scales)[row * groups + k / w.group]);
  }
}

// Same contract as lane_dot_vec for any K, alignment and group: one element per lane per step.
template <WeightFormat F, int R, int TB, int U>
__device__ __forceinline__ void lane_dot_scalar(const WeightMatrix& w, const int64_t (&rows)[R], const float* x,
                                                int64_t x_stride, int n_tok, int lane, float (&acc)[R][TB]) {
  const float* xt[TB];
#pragma unroll
  for (int t = 0; t < TB; ++t) xt[t] = x + int64_t(t < n_tok ? t : n_tok - 1) * x_stride;
  for (int64_t k = lane; k < w.k; k += kLanes) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const float q = weight_at<F>(w, rows[r], k);
#pragma unroll
      for (int t = 0; t < TB; ++t) acc[r][t] = fmaf(q, xt[t][k], acc[r][t]);
    }
  }
}

// The 16-byte path applies when every row start and x row is 16-byte aligned and vectors do not
// straddle w4 groups.
template <WeightFormat F>
inline bool vector_path_ok(const void* w, const void* x, int64_t k, int64_t x_stride, int64_t group) {
  if (k % Fmt<F>::kPerVec != 0 || x_stride % 4 != 0) return false;
  if ((reinterpret_cast<uintptr_t>(w) | reinterpret_cast<uintptr_t>(x)) % 16 != 0) return false;
  if (F == WeightFormat::w4 && (group <= 0 || group % 32 != 0)) return false;
  return true;
}

}  // namespace dse::gpu
