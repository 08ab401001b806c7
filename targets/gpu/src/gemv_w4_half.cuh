// The int4 decode GEMV in packed f16 arithmetic: fewer instructions per weight than the f32 path
// of weight_dot.cuh (which spends a PRMT, an FADD and an FFMA on every weight and was measured
// instruction-bound), at the price of rounding x to f16.
//
// Per 32-bit word of 8 nibbles (k = 8m .. 8m+7, low nibble first) masks put nibbles j and j+4
// under the exponent of 1024.0 in a half2 (or 16 times them, W4Batch::accumulate), one HSUB2 or
// HFMA2 leaves n - 8 (exact: small integers), one HFMA2 multiplies by (x[j], x[j+4]) and
// accumulates: 13 instructions per 8 weights.
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

// The largest |value| of the 8 values a and b.
__device__ __forceinline__ float abs_max8(float4 a, float4 b) {
  return fmaxf(fmaxf(fmaxf(fabsf(a.x), fabsf(a.y)), fmaxf(fabsf(a.z), fabsf(a.w))),
               fmaxf(fmaxf(fabsf(b.x), fabsf(b.y)), fmaxf(fabsf(b.z), fabsf(b.w))));
}

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
    m = fmaxf(m, abs_max8(load_shared16(x + 8 * g), load_shared16(x + 8 * g + 4)));
  }
  const int e = f16_stage_exponent(block_max(m, red));
  const float s = ldexpf(1.0f, e);
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x)
    store_x_group(xs, g, groups / 4, load_shared16(x + 8 * g), load_shared16(x + 8 * g + 4), s);
  __syncthreads();
  return ldexpf(1.0f, -e);
}

// stage_x_half by one warp for the 8-value groups [g_begin, g_end) of x only, with its own
// factor: for a kernel whose warps each read their own slice of K (or their own vector), so that
// no block barrier is needed. The entries keep the layout of the whole K = 32 * nvec. Returns
// 2^-e of the slice; the caller's sync_warp() publishes the entries to the warp.
__device__ __forceinline__ float stage_x_half_slice(const float* x, int64_t g_begin, int64_t g_end, int64_t nvec,
                                                    uint4* xs, int lane) {
  float m = 0.0f;
  for (int64_t g = g_begin + lane; g < g_end; g += kLanes) {
    m = fmaxf(m, abs_max8(load_shared16(x + 8 * g), load_shared16(x + 8 * g + 4)));
  }
  const int e = f16_stage_exponent(warp_max(m));
  const float s = ldexpf(1.0f, e);
  for (int64_t g = g_begin + lane; g < g_end; g += kLanes)
    store_x_group(xs, g, nvec, load_shared16(x + 8 * g), load_shared16(x + 8 * g + 4), s);
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
    m = fmaxf(m, abs_max8(make_float4(a.x * wa.x, a.y * wa.y, a.z * wa.z, a.w * wa.w),
                          make_float4(b.x * wb.x, b.y * wb.y, b.z * wb.z, b.w * wb.w)));
  }
  const double total = block_sum(double(ss), red_sum);
  const float inv = rms_inverse(total, k, eps);
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

// Scale groups per row of `w` without a 64-bit division where the group is a power of two.
__device__ __forceinline__ int64_t groups_per_row(const WeightMatrix& w) {
  return w.group_shift >= 0 ? (w.k / 32) >> w.group_shift : w.k / w.group;
}

// U 16-byte vectors (32 weights each) of R rows, loaded together, and their group scales.
template <int R, int U>
struct W4Batch {
  uint4 wv[U][R];
  float sc[U][R];

  // Vectors v0, v0 + 32, ... of rows `rows` of w (those from nvec on load nothing and add 0).
  __device__ __forceinline__ void load(const WeightMatrix& w, const int64_t (&rows)[R], int64_t v0, int64_t nvec) {
    load_from(w, rows, int(v0), int(nvec));
  }

  // The same loads from rows given as pointers (the first byte of row r's weights and of its
  // scales): the persistent GEMV computes them once per task, so a chunk's loads cost an add each
  // rather than a 64-bit multiply (the per-chunk integer work was half the kernel's instructions).
  // Vector indices are 32-bit (a row is far below 2^31 vectors).
  __device__ __forceinline__ void load_rows(const uint8_t* const (&w)[R], const uint16_t* const (&s)[R], int v0,
                                            int nvec, int group_shift, int group_vecs) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int v = v0 + u * kLanes;
      const bool live = v < nvec;
      const int vv = live ? v : nvec - 1;  // in bounds even if the load is hoisted above the test
      const int gi = group_shift >= 0 ? (vv >> group_shift) : vv / group_vecs;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        wv[u][r] = live ? load_stream16(w[r] + size_t(vv) * 16) : make_uint4(0, 0, 0, 0);
        sc[u][r] = live ? f16_to_f32(s[r][gi]) : 0.0f;
      }
    }
  }

  // load_rows for rows `rows` of w, vectors from v0 below v_end. The row pointers are made here
  // and not kept by the caller: holding them across the persistent GEMV's loop took its two-row
  // instance from 78 to 126 registers.
  __device__ __forceinline__ void load_from(const WeightMatrix& w, const int64_t (&rows)[R], int v0, int v_end) {
    const int64_t rb = w.k / 2, groups = groups_per_row(w);
    const uint8_t* wp[R];
    const uint16_t* sp[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      wp[r] = w.data + rows[r] * rb;
      sp[r] = static_cast<const uint16_t*>(w.scales) + rows[r] * groups;
    }
    load_rows(wp, sp, v0, v_end, w.group_shift, w.group / 32);
  }

  // acc[r] += sum over the batch's vectors of (W[row r] . x) for those 32 k, before the x factor.
  // Per 32-bit word q (nibbles n0..n7): q & 0x000f000f and (q >> 8) & 0x000f000f put (n0, n4) and
  // (n2, n6) under the exponent of 1024 (an HSUB2 of 1032 leaves n - 8); q & 0x00f000f0 and its
  // shifted twin put (16 n1, 16 n5) and (16 n3, 16 n7) there, and an HFMA2 by 1/16 minus 72 leaves
  // n - 8 as well. Every step is exact in f16, so the sums are those of one LOP3 + HSUB2 per
  // pair, in the same order, with 5 integer instructions per word instead of 7.
  __device__ __forceinline__ void accumulate(const uint4* xs, int64_t v0, int64_t nvec, float (&acc)[R]) const {
    accumulate_until(xs, v0, nvec, nvec, acc);
  }

  // accumulate for vectors below v_end only (a warp's slice of K; x in the layout of K = 32 nvec).
  __device__ __forceinline__ void accumulate_until(const uint4* xs, int64_t v0, int64_t v_end, int64_t nvec,
                                                   float (&acc)[R]) const {
    const __half2 bias = __float2half2_rn(1032.0f);
    const __half2 sixteenth = __float2half2_rn(1.0f / 16.0f);
    const __half2 minus_72 = __float2half2_rn(-72.0f);
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = v0 + int64_t(u) * kLanes;
      const bool live = v < v_end;
      // A dead vector reads the last live one's x (staged by this warp, in bounds) and adds 0.
      const int64_t xv = live ? v : v_end - 1;
      uint4 xq[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) xq[i] = xs[x_slot(4 * xv + i, nvec)];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        __half2 h = __float2half2_rn(0.0f);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const uint32_t q = vec_word(wv[u][r], i), q8 = q >> 8;
          const uint32_t t0 = (q & 0x000f000fu) | 0x64006400u, t1 = (q & 0x00f000f0u) | 0x64006400u;
          const uint32_t t2 = (q8 & 0x000f000fu) | 0x64006400u, t3 = (q8 & 0x00f000f0u) | 0x64006400u;
          const __half2 n0 = __hsub2(*reinterpret_cast<const __half2*>(&t0), bias);
          const __half2 n1 = __hfma2(*reinterpret_cast<const __half2*>(&t1), sixteenth, minus_72);
          const __half2 n2 = __hsub2(*reinterpret_cast<const __half2*>(&t2), bias);
          const __half2 n3 = __hfma2(*reinterpret_cast<const __half2*>(&t3), sixteenth, minus_72);
          const uint32_t x0 = vec_word(xq[i], 0), x1 = vec_word(xq[i], 1), x2 = vec_word(xq[i], 2),
                         x3 = vec_word(xq[i], 3);
          h = __hfma2(n0, *reinterpret_cast<const __half2*>(&x0), h);
          h = __hfma2(n1, *reinterpret_cast<const __half2*>(&x1), h);
          h = __hfma2(n2, *reinterpret_cast<const __half2*>(&x2), h);
          h = __hfma2(n3, *reinterpret_cast<const __half2*>(&x3), h);
        }
        const float2 f = __half22float2(h);
        acc[r] = fmaf(live ? f.x + f.y : 0.0f, sc[u][r], acc[r]);
      }
    }
  }
};

}  // namespace dse::gpu
