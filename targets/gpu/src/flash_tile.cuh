// One warp's share of flash attention 2 on mma.sync fragments (mma_sm80.cuh; CUDA only): 16
// query rows, of which a thread holds rows g = lane / 4 and g + 8 in the accumulator layout, and
// NV output n-tiles of 8 values. Per key tile the kernel computes the scores S (f32, already in
// base 2: Q scaled by log2 e), masks them, then calls rescale() and accumulate(). Shared by the
// dense prefill kernel (attention_prefill_tc.cuh) and MLA's (mla_prefill_tc.cuh).
#pragma once

#if !defined(DSE_GPU_HIP)

#include <cstdint>

#include "mma_sm80.cuh"

namespace dse::gpu {

template <int NV>
struct FlashRows {
  float m[2] = {-INFINITY, -INFINITY};  // running max per row
  float l[2] = {0.0f, 0.0f};            // this thread's part of the running sum (quad-reduced at the end)
  float o[NV][4];

  __device__ __forceinline__ FlashRows() {
#pragma unroll
    for (int n = 0; n < NV; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  }

  // -inf for the keys past each row's position: key j0 + 8 n + qc (+ 1) against pos0 (row g)
  // and pos1 (row g + 8).
  template <int NT>
  static __device__ __forceinline__ void mask(float (&s)[NT][4], int64_t j0, int qc, int64_t pos0, int64_t pos1) {
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      const int64_t j = j0 + n * 8 + qc;
      if (j > pos0) s[n][0] = -INFINITY;
      if (j + 1 > pos0) s[n][1] = -INFINITY;
      if (j > pos1) s[n][2] = -INFINITY;
      if (j + 1 > pos1) s[n][3] = -INFINITY;
    }
  }

  // The running max after the tile (the 4 lanes of a quad hold a row's scores), l and o rescaled
  // to it; base[r] is what the tile's weights subtract (0 for a row with no visible key yet,
  // whose weights are then exp2(-inf) = 0).
  template <int NT>
  __device__ __forceinline__ void rescale(const float (&s)[NT][4], float (&base)[2]) {
    float mt[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < NT; ++n) {
      mt[0] = fmaxf(mt[0], fmaxf(s[n][0], s[n][1]));
      mt[1] = fmaxf(mt[1], fmaxf(s[n][2], s[n][3]));
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 1));
      mt[r] = fmaxf(mt[r], __shfl_xor_sync(0xffffffffu, mt[r], 2));
      const float m_new = fmaxf(m[r], mt[r]);
      base[r] = m_new == -INFINITY ? 0.0f : m_new;
      const float corr = exp2f(m[r] - base[r]);
      l[r] *= corr;
      m[r] = m_new;
#pragma unroll
      for (int n = 0; n < NV; ++n) {
        o[n][2 * r] *= corr;
        o[n][2 * r + 1] *= corr;
      }
    }
  }

  // o += P V, 16 keys per k-step: P = exp2(S - base) as f16 A fragments (the accumulators of
  // n-tiles 2kk and 2kk + 1 are the A layout of one k-step), V's B registers transposed by
  // ldmatrix from the [key][dim] tile `vt` (row stride `stride` halves), dims [col0, col0 + 8 NV):
  // matrices (keys 0-7, dims 0-7), (keys 8-15, dims 0-7), (keys 0-7, dims 8-15), (keys 8-15, dims 8-15).
  template <int NT>
  __device__ __forceinline__ void accumulate(const float (&s)[NT][4], const float (&base)[2], const __half* vt,
                                             int stride, int col0, int lane) {
#pragma unroll
    for (int kk = 0; kk < NT / 2; ++kk) {
      float p[2][4];
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        p[u][0] = exp2f(s[2 * kk + u][0] - base[0]);
        p[u][1] = exp2f(s[2 * kk + u][1] - base[0]);
        p[u][2] = exp2f(s[2 * kk + u][2] - base[1]);
        p[u][3] = exp2f(s[2 * kk + u][3] - base[1]);
        l[0] += p[u][0] + p[u][1];
        l[1] += p[u][2] + p[u][3];
      }
      const uint32_t pa[4] = {pack_half2(p[0][0], p[0][1]), pack_half2(p[0][2], p[0][3]), pack_half2(p[1][0], p[1][1]),
                              pack_half2(p[1][2], p[1][3])};
#pragma unroll
      for (int nj = 0; nj < NV / 2; ++nj) {
        uint32_t b[4];
        ldmatrix_x4_trans(
            b, vt + (kk * 16 + (lane % 8) + ((lane / 8) % 2) * 8) * stride + col0 + nj * 16 + (lane / 16) * 8);
        mma_16816(o[2 * nj], pa, b[0], b[1]);
        mma_16816(o[2 * nj + 1], pa, b[2], b[3]);
      }
    }
  }

  // After the last tile: 1 / (row sum) for row g (r = 0) and g + 8 (r = 1), 0 for an empty row.
  // Every lane of the warp must call it (quad shuffles).
  __device__ __forceinline__ void finish(float (&inv)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float sum = l[r] + __shfl_xor_sync(0xffffffffu, l[r], 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      inv[r] = sum > 0.0f ? 1.0f / sum : 0.0f;
    }
  }

  // Row r's (0: g, 1: g + 8) outputs times inv, as float2 pairs at out + 8 n (out already at the
  // row's first column + 2 (lane % 4)).
  __device__ __forceinline__ void store_row(int r, float inv, float* out) const {
#pragma unroll
    for (int n = 0; n < NV; ++n)
      *reinterpret_cast<float2*>(out + n * 8) = make_float2(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
  }
};

}  // namespace dse::gpu

#endif  // !DSE_GPU_HIP
