// The int4 decode GEMV in packed f16 arithmetic: fewer instructions per weight than the f32 path
// of weight_dot.cuh (which spends a PRMT, an FADD and an FFMA on every weight and was measured
// instruction-bound), at the price of rounding x to f16.
//
// Per 32-bit word of 8 nibbles (k = 8m .. 8m+7, low nibble first) one LOP3 (after a shift) puts
// nibbles j and j+4 under the exponent of 1024.0 in a half2, one HSUB2 removes 1032 (exact: small
// integers), one HFMA2 multiplies by (x[j], x[j+4]) and accumulates: 15 instructions per 8 weights.
// x is staged once per block in shared memory in that pair order, scaled by a power of two so that
// the 16 products a half2 lane sums per 32-weight vector stay far inside f16's range; each
// vector's half2 sum is widened to f32 and multiplied by its group scale there.
#pragma once

#include <cstdint>

#include "common.cuh"
#include "weight_dot.cuh"

namespace dse::gpu {

// Where the 8 values of group g (x[8g .. 8g+7]) are staged, for K = 32 * nvec: group 4v + i of
// 32-weight vector v goes to entry i * nvec + v. A lane reads the four entries of its vector
// while the other lanes read those of the next vectors, so each of the four reads is 32
// consecutive 16-byte entries, free of bank conflicts (entries [4v, 4v + 4) per vector put lanes
// 64 bytes apart: a 4-way conflict; removing it changed the GEMV's time by under 10%).
__device__ __forceinline__ int64_t x_slot(int64_t g, int64_t nvec) { return (g & 3) * nvec + (g >> 2); }

// e such that m * 2^e lies in [128, 256): the 16 products a half2 lane sums per 32-weight vector
// then stay far inside f16's range. 0 for m = 0, NaN or inf (those propagate as the f32 path does).
__device__ __forceinline__ int f16_stage_exponent(float m) {
  if (!(m > 0.0f && isfinite(m))) return 0;
  int exponent;
  frexpf(m, &exponent);  // m in [2^(exponent-1), 2^exponent)
  return 8 - exponent;
}

// Entry x_slot(g) of xs: the half2 pairs (a[j] * s, b[j] * s), j = 0..3, for a = x[8g .. 8g+3]
// and b = x[8g+4 .. 8g+7] (the nibble order of gemv's LOP3: nibbles j and j+4 of a word).
__device__ __forceinline__ void store_x_group(uint4* xs, int64_t g, int64_t nvec, float4 a, float4 b, float s) {
  const __half2 p0 = __floats2half2_rn(a.x * s, b.x * s), p1 = __floats2half2_rn(a.y * s, b.y * s);
  const __half2 p2 = __floats2half2_rn(a.z * s, b.z * s), p3 = __floats2half2_rn(a.w * s, b.w * s);
  xs[x_slot(g, nvec)] = make_uint4(*reinterpret_cast<const uint32_t*>(&p0), *reinterpret_cast<const uint32_t*>(&p1),
                                   *reinterpret_cast<const uint32_t*>(&p2), *reinterpret_cast<const uint32_t*>(&p3));
}

// Stages x (f32, K values, K % 32 == 0) in `xs` (K / 8 entries of 16 bytes) as f16 scaled by 2^e
// (f16_stage_exponent of max|x|), group g in entry x_slot(g). Returns 2^-e, the factor of the
// finished dot products. `red` holds one float per logical warp of the block. Every thread of the
// block must call it (it synchronises).
__device__ __forceinline__ float stage_x_half(const float* x, int64_t k, uint4* xs, float* red) {
  const int64_t groups = k / 8;
  float m = 0.0f;
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
    const float4 a = load_shared16(x + 8 * g), b = load_shared16(x + 8 * g + 4);
    m = fmaxf(m, fmaxf(fmaxf(fmaxf(fabsf(a.x), fabsf(a.y)), fmaxf(fabsf(a.z), fabsf(a.w))),
                       fmaxf(fmaxf(fabsf(b.x), fabsf(b.y)), fmaxf(fabsf(b.z), fabsf(b.w)))));
  }
  const int e = f16_stage_exponent(block_max(m, red));
  const float s = ldexpf(1.0f, e);
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x)
    store_x_group(xs, g, groups / 4, load_shared16(x + 8 * g), load_shared16(x + 8 * g + 4), s);
  __syncthreads();
  return ldexpf(1.0f, -e);
}

// stage_x_half of rms_norm(x) * w, for a GEMV with the norm as its prologue: the sum of squares
// (per thread in f32, across the block in double, as rms_norm_f32 sums) and the largest |x * w|
// in one pass over x, then the normalised values staged as stage_x_half stages x. Every block
// computes the same factor (same threads, same order). Block b also writes every gridDim.x-th
// 8-value group of the norm's output (when write_out), for its other readers. Returns 2^-e as
// stage_x_half does.
__device__ __forceinline__ float stage_rms_norm_half(const float* x, const float* w, double eps, int64_t k, uint4* xs,
                                                     float* red, double* red_sum, float* norm_out, bool write_out) {
  const int64_t groups = k / 8;
  float m = 0.0f, ss = 0.0f;
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
    const float4 a = load_shared16(x + 8 * g), b = load_shared16(x + 8 * g + 4);
    const float4 wa = load_shared16(w + 8 * g), wb = load_shared16(w + 8 * g + 4);
    ss = fmaf(a.x, a.x, fmaf(a.y, a.y, fmaf(a.z, a.z, fmaf(a.w, a.w, ss))));
    ss = fmaf(b.x, b.x, fmaf(b.y, b.y, fmaf(b.z, b.z, fmaf(b.w, b.w, ss))));
    m = fmaxf(m, fmaxf(fmaxf(fmaxf(fabsf(a.x * wa.x), fabsf(a.y * wa.y)),
                             fmaxf(fabsf(a.z * wa.z), fabsf(a.w * wa.w))),
                       fmaxf(fmaxf(fabsf(b.x * wb.x), fabsf(b.y * wb.y)),
                             fmaxf(fabsf(b.z * wb.z), fabsf(b.w * wb.w)))));
  }
  const double total = block_sum(double(ss), red_sum);
  const float inv = float(1.0 / sqrt(total / double(k) + eps));
  const int e = f16_stage_exponent(block_max(m, red) * inv);
  const float s = ldexpf(1.0f, e);
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
    const float4 a = load_shared16(x + 8 * g), b = load_shared16(x + 8 * g + 4);
    const float4 wa = load_shared16(w + 8 * g), wb = load_shared16(w + 8 * g + 4);
    const float4 na = make_float4(wa.x * (a.x * inv), wa.y * (a.y * inv), wa.z * (a.z * inv), wa.w * (a.w * inv));
    const float4 nb = make_float4(wb.x * (b.x * inv), wb.y * (b.y * inv), wb.z * (b.z * inv), wb.w * (b.w * inv));
    if (write_out && g % gridDim.x == blockIdx.x) {
      reinterpret_cast<float4*>(norm_out)[2 * g] = na;
      reinterpret_cast<float4*>(norm_out)[2 * g + 1] = nb;
    }
    store_x_group(xs, g, groups / 4, na, nb, s);
  }
  __syncthreads();
  return ldexpf(1.0f, -e);
}

// U 16-byte vectors (32 weights each) of R rows, loaded together, and their group scales.
template <int R, int U>
struct W4Batch {
  uint4 wv[U][R];
  float sc[U][R];

  __device__ __forceinline__ void load(const WeightMatrix& w, const int64_t (&rows)[R], int64_t v0, int64_t nvec) {
    const int64_t rb = w.k / 2, groups = w.k / w.group;
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = v0 + int64_t(u) * kLanes;
      const int64_t gi = w.group_shift >= 0 ? (v >> w.group_shift) : int64_t(uint32_t(v) / uint32_t(w.group / 32));
#pragma unroll
      for (int r = 0; r < R; ++r) {
        // The address stays inside the row even for a dead vector, should the load ever be hoisted
        // above the v < nvec test (compute-sanitizer caught one reading past the end of an lm_head
        // when load_stream16's asm was not volatile).
        wv[u][r] = v < nvec ? load_stream16(w.data + rows[r] * rb + (v < nvec ? v : nvec - 1) * 16)
                            : make_uint4(0, 0, 0, 0);
        sc[u][r] = v < nvec ? f16_to_f32(static_cast<const uint16_t*>(w.scales)[rows[r] * groups + gi]) : 0.0f;
      }
    }
  }

  // acc[r] += sum over the batch's vectors of (W[row r] . x) for those 32 k, before the x factor.
  __device__ __forceinline__ void accumulate(const uint4* xs, int64_t v0, int64_t nvec, float (&acc)[R]) const {
    const __half2 bias = __float2half2_rn(1032.0f);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = v0 + int64_t(u) * kLanes;
      const bool live = v < nvec;
      const int64_t xv = live ? v : 0;  // a dead vector reads x[0..31] (in bounds) and adds 0
      uint4 xq[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) xq[i] = xs[x_slot(4 * xv + i, nvec)];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        __half2 h = __float2half2_rn(0.0f);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const uint32_t q = vec_word(wv[u][r], i);
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const uint32_t t = ((q >> (4 * j)) & 0x000f000fu) | 0x64006400u;  // {1024 + n_j, 1024 + n_j+4}
            const __half2 nib = __hsub2(*reinterpret_cast<const __half2*>(&t), bias);
            const uint32_t xw = vec_word(xq[i], j);
            h = __hfma2(nib, *reinterpret_cast<const __half2*>(&xw), h);
          }
        }
        const float2 f = __half22float2(h);
        acc[r] = fmaf(live ? f.x + f.y : 0.0f, sc[u][r], acc[r]);
      }
    }
  }
};

}  // namespace dse::gpu
