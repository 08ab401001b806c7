// The int4 decode GEMV in packed f16 arithmetic: fewer instructions per weight than the f32 path
// of weight_dot.cuh (which spends a PRMT, an FADD and an FFMA on every weight and was measured
// instruction-bound), at the price of rounding x to f16.
//
// Per 32-bit word of 8 nibbles (k = 8m .. 8m+7, low nibble first) one AND puts nibbles j and j+4
// in the low mantissa bits of a half2: the f16 subnormals n * 2^-24 (j = 0, 2 after a shift of
// 8) or 16 n * 2^-24 (j = 1, 3). One HFMA2 multiplies them by (x[j], x[j+4]) and accumulates.
// The stored offset 8 comes back once per word: one HADD2 of -8 times the sum of the word's four
// x per lane, staged with x. 10 instructions per 8 weights (5 integer, 5 f16) where subtracting 8
// from every nibble pair first took 13 (H200, same call, 4eeab22's binary against this: 7B decode
// 385.4 -> 419.9 tok/s, 1.5B 762.8 -> 809.8; kernel bench 7B gate_up 22.9 -> 21.2 us, lm_head
// 78.5 -> 66.4).
// The price is accuracy: the f16 sums of n * x, n in [0, 15], swing by the offset's share before
// the HADD2 brings them back, so they round at about twice the magnitude. scripts/
// w4-half-error-sim.py simulates the f16 arithmetic: error of the outputs against exact sums of
// the same staged x, as a fraction of their rms, 5.6e-4 with the offset on every pair, 1.1e-3
// here (Gaussian x and weights), 2.3e-3 with one offset per 32-weight vector in f32 (9
// instructions, about 1% faster end to end: not worth twice the error). All are far below the
// int4 quantization's own error (tinyseek's KL: docs/QUALITY.md).
// f16 arithmetic keeps subnormals (no -ftz for f16; the build has no fast-math either), so the
// products are exact below f16's normal range and rounded as usual above it.
// x is staged once per block in shared memory in that pair order, scaled by a power of two that
// puts max|x| in [2^14, 2^15): the sums stay far inside f16's range (each term below 15 * 2^15 *
// 2^-24 < 2^-5) and the smallest products are still multiples of 2^-24, i.e. below x's own
// rounding; the pairs of odd j are staged divided by 16 (exact: a power of two) to cancel their
// nibbles' factor 16.
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

// Shared memory of x staged for a K = 32 nvec GEMV: 4 nvec 16-byte entries of f16 pairs, then
// nvec entries of offset terms (one half2 per 8-value group, four per vector).
__host__ __device__ inline int64_t half_stage_entries(int64_t nvec) { return 5 * nvec; }
__host__ __device__ inline int64_t half_stage_bytes(int64_t k) { return 16 * half_stage_entries(k / 32); }
// What the staged vectors of one block may take: the dynamic shared memory a launch gets without
// opting in to more.
inline constexpr int64_t kHalfStageSmemLimit = 48 * 1024;

// e such that m * 2^e lies in [2^14, 2^15) (see the top of the file). 0 for m = 0, NaN or inf
// (those propagate as the f32 path does).
__device__ __forceinline__ int f16_stage_exponent(float m) {
  if (!(m > 0.0f && isfinite(m))) return 0;
  int exponent;
  frexpf(m, &exponent);  // m in [2^(exponent-1), 2^exponent)
  return 15 - exponent;
}

// Entry x_slot(g) of xs: the half2 pairs (a[j] * s, b[j] * s) for j = 0, 2 and (a[j] * s / 16,
// b[j] * s / 16) for j = 1, 3, for a = x[8g .. 8g+3] and b = x[8g+4 .. 8g+7] (the nibble order
// of the GEMV's ANDs: nibbles j and j+4 of a word); and half2 g of the offset terms after the
// 4 nvec entries: -8 * 2^-24 times the sum of a's and of b's values as staged (before the
// division by 16), in the units of the GEMV's f16 sums.
__device__ __forceinline__ void store_x_group(uint4* xs, int64_t g, int64_t nvec, float4 a, float4 b, float s) {
  const float t = s * 0.0625f;
  const __half2 p0 = __floats2half2_rn(a.x * s, b.x * s), p1 = __floats2half2_rn(a.y * t, b.y * t);
  const __half2 p2 = __floats2half2_rn(a.z * s, b.z * s), p3 = __floats2half2_rn(a.w * t, b.w * t);
  xs[x_slot(g, nvec)] = make_uint4(*reinterpret_cast<const uint32_t*>(&p0), *reinterpret_cast<const uint32_t*>(&p1),
                                   *reinterpret_cast<const uint32_t*>(&p2), *reinterpret_cast<const uint32_t*>(&p3));
  const float2 f0 = __half22float2(p0), f1 = __half22float2(p1), f2 = __half22float2(p2), f3 = __half22float2(p3);
  const float sum_a = (f0.x + f2.x) + 16.0f * (f1.x + f3.x), sum_b = (f0.y + f2.y) + 16.0f * (f1.y + f3.y);
  reinterpret_cast<__half2*>(xs + 4 * nvec)[g] = __floats2half2_rn(sum_a * -0x1p-21f, sum_b * -0x1p-21f);
}

// Stages x (f32, K values, K % 32 == 0) in `xs` (half_stage_bytes(K)) as f16 scaled by 2^e
// (f16_stage_exponent of max|x|), group g in entry x_slot(g), and the groups' offset terms.
// Returns 2^(24-e), the factor of the finished dot products. `red` holds one float per logical
// warp of the block. Every thread of the block must call it (it synchronises).
__device__ __forceinline__ float stage_x_half(const float* x, int64_t k, uint4* xs, float* red) {
  const int64_t groups = k / 8, nvec = k / 32;
  float m = 0.0f;
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x) {
    m = fmaxf(m, abs_max8(load_shared16(x + 8 * g), load_shared16(x + 8 * g + 4)));
  }
  const int e = f16_stage_exponent(block_max(m, red));
  const float s = ldexpf(1.0f, e);
  for (int64_t g = threadIdx.x; g < groups; g += blockDim.x)
    store_x_group(xs, g, nvec, load_shared16(x + 8 * g), load_shared16(x + 8 * g + 4), s);
  __syncthreads();
  return ldexpf(1.0f, 24 - e);
}

// stage_x_half by one warp for the 8-value groups [g_begin, g_end) of x only, with its own
// factor: for a kernel whose warps each read their own slice of K (or their own vector), so that
// no block barrier is needed. The entries keep the layout of the whole K = 32 * nvec. Returns
// 2^(24-e) of the slice; the caller's sync_warp() publishes the entries to the warp.
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
  return ldexpf(1.0f, 24 - e);
}

// stage_x_half of rms_norm(x) * w, for a GEMV with the norm as its prologue: the sum of squares
// (per thread in f32, across the block in double, as rms_norm_f32 sums) and the largest |x * w|
// in one pass over x, then the normalised values staged as stage_x_half stages x. Every block
// computes the same factor (same threads, same order). Block b also writes every gridDim.x-th
// 8-value group of the norm's output (when write_out), for its other readers. Returns 2^(24-e)
// as stage_x_half does.
__device__ __forceinline__ float stage_rms_norm_half(const float* x, const float* w, double eps, int64_t k, uint4* xs,
                                                     float* red, double* red_sum, float* norm_out, bool write_out) {
  const int64_t groups = k / 8, nvec = k / 32;
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
    store_x_group(xs, g, nvec, na, nb, s);
  }
  __syncthreads();
  return ldexpf(1.0f, 24 - e);
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
  // Per 32-bit word q (nibbles n0..n7): q & 0x000f000f is the half2 of subnormals (n0, n4) *
  // 2^-24, q & 0x00f000f0 is (16 n1, 16 n5) * 2^-24, and the same of q >> 8 gives (n2, n6) and
  // (16 n3, 16 n7) (top of the file); one HFMA2 each against the staged x pairs, and one HADD2
  // of the word's staged offset term.
  __device__ __forceinline__ void accumulate(const uint4* xs, int64_t v0, int64_t nvec, float (&acc)[R]) const {
    accumulate_until(xs, v0, nvec, nvec, acc);
  }

  // accumulate for vectors below v_end only (a warp's slice of K; x in the layout of K = 32 nvec).
  __device__ __forceinline__ void accumulate_until(const uint4* xs, int64_t v0, int64_t v_end, int64_t nvec,
                                                   float (&acc)[R]) const {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t v = v0 + int64_t(u) * kLanes;
      const bool live = v < v_end;
      // A dead vector reads the last live one's x (staged by this warp, in bounds) and adds 0.
      const int64_t xv = live ? v : v_end - 1;
      uint4 xq[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) xq[i] = xs[x_slot(4 * xv + i, nvec)];
      const uint4 offsets = xs[4 * nvec + xv];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        __half2 h;
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const uint32_t q = vec_word(wv[u][r], i), q8 = q >> 8;
          const uint32_t t0 = q & 0x000f000fu, t1 = q & 0x00f000f0u, t2 = q8 & 0x000f000fu, t3 = q8 & 0x00f000f0u;
          const uint32_t x0 = vec_word(xq[i], 0), x1 = vec_word(xq[i], 1), x2 = vec_word(xq[i], 2),
                         x3 = vec_word(xq[i], 3), o = vec_word(offsets, i);
          const __half2 p0 = *reinterpret_cast<const __half2*>(&t0), a0 = *reinterpret_cast<const __half2*>(&x0);
          h = i == 0 ? __hmul2(p0, a0) : __hfma2(p0, a0, h);
          h = __hfma2(*reinterpret_cast<const __half2*>(&t1), *reinterpret_cast<const __half2*>(&x1), h);
          // The offset term between the word's two halves rather than first: for Gaussian x and
          // weights the error against exact sums falls from 1.38e-3 to 1.11e-3 of the outputs' rms
          // (scripts/w4-half-error-sim.py; other inputs about the same either way).
          h = __hadd2(h, *reinterpret_cast<const __half2*>(&o));
          h = __hfma2(*reinterpret_cast<const __half2*>(&t2), *reinterpret_cast<const __half2*>(&x2), h);
          h = __hfma2(*reinterpret_cast<const __half2*>(&t3), *reinterpret_cast<const __half2*>(&x3), h);
        }
        const float2 f = __half22float2(h);
        acc[r] = fmaf(live ? f.x + f.y : 0.0f, sc[u][r], acc[r]);
      }
    }
  }
};

}  // namespace dse::gpu
