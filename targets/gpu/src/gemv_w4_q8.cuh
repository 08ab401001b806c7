// int4 decode GEMV against int8 activations (opt-in: DSE_GPU_GEMV_W4=dp4a; not yet run on a GPU).
//
// Why: Nsight Compute showed the packed-f16 GEMV (gemv_w4_half.cuh) bound by instruction issue,
// not by memory ("not selected" and "math pipe throttle" the largest warp stalls, 8 instructions
// per weight in all; docs/PERF.md, session 5). Here x is quantized per 32-value vector to int8
// with an f32 scale, as llama.cpp's mmvq does, and a 32-bit word of 8 nibbles costs one AND, one
// shift + AND and two 4-way integer dot products (dp4a) against the matching x bytes, instead of
// 13 f16 instructions. The integer sums are exact; the price is x's rounding to 8 bits (a relative
// error of up to 1/254 of the vector's largest |x| per value), whose effect on perplexity and KL
// must be measured (scripts/bench-gpu quality) before this could become the default.
//
// Per 32-value vector v of x (k = 32 v + 8 i + j, word i, nibble j of the weights' word i):
// xe[v].i packs the int8 x of j = 0, 2, 4, 6 (the weights' low nibbles after q & 0x0f0f0f0f),
// xo[v].i those of j = 1, 3, 5, 7 (after (q >> 4) & 0x0f0f0f0f), and so[v] = {s, -8 s sum q}: the
// vector's scale and the offset that removes the nibbles' zero point (n - 8) in one FMA:
// sum (n_k - 8) x_k = s (dot(n, q) - 8 sum q).
#pragma once

#include <cstdint>

#include "common.cuh"
#include "gemv_w4_half.cuh"

namespace dse::gpu {

// Shared memory of the staged x: two 16-byte planes and one float2 per vector.
__host__ __device__ inline int64_t q8_stage_bytes(int64_t k) { return (k / 32) * (2 * 16 + 8); }

struct Q8X {
  uint4* xe;   // [nvec]
  uint4* xo;   // [nvec]
  float2* so;  // [nvec]: scale, -8 * scale * sum of the vector's int8 values

  __device__ __forceinline__ static Q8X at(void* smem, int64_t nvec) {
    uint4* base = static_cast<uint4*>(smem);
    return {base, base + nvec, reinterpret_cast<float2*>(base + 2 * nvec)};
  }
};

// Quantizes the 32 values of vector v held one per lane (value of k = 32 v + lane) into the
// planes. Every lane of the warp calls it.
__device__ __forceinline__ void stage_q8_vector(const Q8X& xq, int64_t v, float value, int lane) {
  const float m = warp_max(fabsf(value));
  const float s = m / 127.0f;
  int q = 0;
  if (m > 0.0f && isfinite(m) && isfinite(value)) q = int(rintf(value / s));
  q = q > 127 ? 127 : (q < -127 ? -127 : q);
  // Lane k = 8 i + j: word i of xe (j even) or xo (j odd), byte j / 2.
  int8_t* plane = reinterpret_cast<int8_t*>((lane & 1) ? xq.xo + v : xq.xe + v);
  plane[4 * (lane >> 3) + ((lane & 7) >> 1)] = int8_t(q);
  float sum = float(q);
#pragma unroll
  for (int o = kLanes / 2; o >= 1; o /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, o, kLanes);
  // A vector holding NaN or inf (which fmaxf would skip) makes its dot products NaN, as the f32
  // GEMV's sums would be NaN or inf; an all-zero vector adds 0.
  const float bad = warp_sum(isfinite(value) ? 0.0f : 1.0f);
  if (lane == 0) {
    if (bad > 0.0f) xq.so[v] = make_float2(NAN, NAN);
    else xq.so[v] = m > 0.0f ? make_float2(s, -8.0f * s * sum) : make_float2(0.0f, 0.0f);
  }
}

// Stages x (K % 32 == 0) as int8 vectors, warp w of the block taking vectors w, w + warps, ...
// With a norm (norm_w != null) the staged values are w * x * inv, inv = 1 / rms(x) computed here
// (sum of squares per thread in f32, across the block in double, as rms_norm_f32 sums), and block
// b writes the norm's output of every gridDim.x-th vector (when write_out). Every thread of the
// block calls it (it synchronises).
__device__ __forceinline__ void stage_x_q8(const float* x, const float* norm_w, double eps, int64_t k, const Q8X& xq,
                                           double* red_sum, float* norm_out, bool write_out) {
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes, warps = blockDim.x / kLanes;
  const int64_t nvec = k / 32;
  float inv = 1.0f;
  if (norm_w != nullptr) {
    float ss = 0.0f;
    for (int64_t i = threadIdx.x; i < k; i += blockDim.x) ss = fmaf(x[i], x[i], ss);
    const double total = block_sum(double(ss), red_sum);
    inv = rms_inverse(total, k, eps);
  }
  for (int64_t v = warp; v < nvec; v += warps) {
    const int64_t i = 32 * v + lane;
    float value = x[i];
    if (norm_w != nullptr) {
      value = norm_w[i] * (value * inv);
      if (write_out && v % gridDim.x == blockIdx.x) norm_out[i] = value;
    }
    stage_q8_vector(xq, v, value, lane);
  }
  __syncthreads();
}

// acc[r] += sum over the batch's vectors of (W[row r] . x) for those 32 k, x as staged above
// (no factor to apply afterwards: the scales are in so[v]). v_end as W4Batch::accumulate_until.
template <int R, int U>
__device__ __forceinline__ void accumulate_q8(const W4Batch<R, U>& b, const Q8X& xq, int64_t v0, int64_t v_end,
                                              float (&acc)[R]) {
#pragma unroll
  for (int u = 0; u < U; ++u) {
    const int64_t v = v0 + int64_t(u) * kLanes;
    const bool live = v < v_end;
    const int64_t xv = live ? v : v_end - 1;  // in bounds; its sum is not added
    const uint4 xe = xq.xe[xv], xo = xq.xo[xv];
    const float2 so = xq.so[xv];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      int d = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const uint32_t q = vec_word(b.wv[u][r], i);
        d = dot4_i8(int(q & 0x0f0f0f0fu), int(vec_word(xe, i)), d);
        d = dot4_i8(int((q >> 4) & 0x0f0f0f0fu), int(vec_word(xo, i)), d);
      }
      const float f = fmaf(float(d), so.x, so.y);
      acc[r] = fmaf(live ? f : 0.0f, b.sc[u][r], acc[r]);
    }
  }
}

}  // namespace dse::gpu
