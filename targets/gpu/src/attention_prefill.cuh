// Prefill attention in one pass (attention_f32 over a chunk of one sequence's rows): a block takes
// 16 consecutive query rows of one head and walks the keys of their slot in tiles of 32, holding
// the tile of K and V in shared memory for all 16 rows, with the online softmax of flash
// attention (running max and sum per row, the output rescaled as the max grows). The split-K
// decode kernels instead run one block per (row, head, chunk) and read every key tile once per
// query row, then merge the chunks in a second kernel; for a 512-token prefill of a 1.5B model
// that pair was about 40% of the prefill's kernel time (docs/PERF.md).
//
// CUDA cores, f32 arithmetic (the same products and sums as the split kernel, in another order),
// f32 or f16 caches, head dims <= 128. Used only where the launcher knows every row of the step
// belongs to one sequence at consecutive positions (GpuStep::one_sequence: the prefill program);
// DSE_GPU_FLASH_PREFILL=0 turns it off (measured on an H200: 1.5B int4 prefill of 512 tokens
// 16.4k tok/s with the split kernels, 18.0k with this one). f16 caches with head dims 64 or 128
// take the tensor-core kernel of attention_prefill_tc.cuh instead (CUDA; 35.7k on the same test).
#pragma once

#include <cstdint>

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {

struct PrefillAttentionArgs {
  const float* q;  // row t, head h: q + t * q_tok + h * d
  int64_t q_tok;
  const void* k;  // position j of the slot, kv head g: k + (first + j) * k_row + g * d
  const void* v;  // likewise with v_row and dv
  int64_t k_row, v_row;
  float* out;  // row t, head h: out + t * out_tok + h * dv
  int64_t out_tok;
  int d, dv;
  int heads_per_kv;
  float scale;
  int64_t slot_rows;  // rows of one cache slot (host_slot_rows)
  int64_t token_cap;
  const StepInfo* step;
  GpuErrorRecord* err;
};

inline constexpr int kPrefillRows = 16;     // query rows per block
inline constexpr int kPrefillKeys = 32;     // keys per tile
inline constexpr int kPrefillMaxDim = 128;  // d and dv
inline constexpr int kPrefillThreads = 128;
inline constexpr int kPrefillPad = 4;  // floats after each shared row: float4 reads of 8 keys hit 32 banks

// Shared memory: Q [16][d + pad], K [32][d + pad], V [32][dv + pad], P [16][32] floats.
inline size_t prefill_attention_smem_bytes(int d, int dv) {
  return size_t(kPrefillRows * (d + kPrefillPad) + kPrefillKeys * (d + kPrefillPad) +
                kPrefillKeys * (dv + kPrefillPad) + kPrefillRows * kPrefillKeys) *
         sizeof(float);
}

// grid (ceil(token_cap / 16), query heads), 128 threads. Thread i works on row r = i / 8 of the
// block's 16; for scores on keys (i % 8) + 8 n of the tile, for the output on dims 4 (i % 8) + 32 n.
template <typename S>
__global__ void __launch_bounds__(kPrefillThreads) prefill_attention_kernel(PrefillAttentionArgs a) {
  grid_dependency_sync();
  const int64_t rows = step_rows(a.step, a.token_cap);
  const int64_t t0 = int64_t(blockIdx.x) * kPrefillRows;
  if (t0 >= rows) return;
  if (!one_sequence_step_ok(a.step, rows, a.slot_rows, a.err, GpuOp::attention)) return;
  const int h = blockIdx.y, g = h / a.heads_per_kv;
  const int d = a.d, dv = a.dv, dq = d + kPrefillPad, dvp = dv + kPrefillPad;
  const int64_t start = a.step->start_pos;
  const int64_t first = a.step->slot * a.slot_rows;  // cache row of the slot's position 0
  const int64_t last_row = rows - 1 < t0 + kPrefillRows - 1 ? rows - 1 : t0 + kPrefillRows - 1;
  const int64_t keys = start + last_row + 1;  // positions the block's last row sees

  extern __shared__ float4 smem4[];
  float* qs = reinterpret_cast<float*>(smem4);
  float* ks = qs + kPrefillRows * dq;
  float* vs = ks + kPrefillKeys * dq;
  float* ps = vs + kPrefillKeys * dvp;
  const int tid = threadIdx.x, r = tid / 8, c = tid % 8;
  const int64_t t = t0 + r;
  const bool live = t <= last_row;
  const int64_t pos = start + t;  // this thread's row's position

  for (int e = tid; e < kPrefillRows * d; e += kPrefillThreads) {
    const int rr = e / d, dd = e % d;
    const int64_t tt = t0 + rr;
    qs[rr * dq + dd] = tt <= last_row ? a.q[tt * a.q_tok + int64_t(h) * d + dd] : 0.0f;
  }
  const typename S::type* kb = static_cast<const typename S::type*>(a.k) + first * a.k_row + int64_t(g) * d;
  const typename S::type* vb = static_cast<const typename S::type*>(a.v) + first * a.v_row + int64_t(g) * dv;

  float m = -INFINITY, l = 0.0f;
  float4 acc[kPrefillMaxDim / 32];
#pragma unroll
  for (int n = 0; n < kPrefillMaxDim / 32; ++n) acc[n] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);

  for (int64_t j0 = 0; j0 < keys; j0 += kPrefillKeys) {
    const int n_keys = int(keys - j0 < kPrefillKeys ? keys - j0 : kPrefillKeys);
    __syncthreads();  // the previous tile's K, V and P are no longer read (and Q is written)
    for (int e = tid; e < kPrefillKeys * d; e += kPrefillThreads) {
      const int kk = e / d, dd = e % d;
      ks[kk * dq + dd] = kk < n_keys ? S::load(kb + (j0 + kk) * a.k_row, dd) : 0.0f;
    }
    for (int e = tid; e < kPrefillKeys * dv; e += kPrefillThreads) {
      const int kk = e / dv, dd = e % dv;
      vs[kk * dvp + dd] = kk < n_keys ? S::load(vb + (j0 + kk) * a.v_row, dd) : 0.0f;
    }
    __syncthreads();
    // Scores of row r on keys c, c + 8, c + 16, c + 24 of the tile.
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const float* qr = qs + r * dq;
    for (int dd = 0; dd < d; dd += 4) {
      const float4 q4 = *reinterpret_cast<const float4*>(qr + dd);
#pragma unroll
      for (int n = 0; n < 4; ++n) {
        const float4 k4 = *reinterpret_cast<const float4*>(ks + (c + 8 * n) * dq + dd);
        s[n] = fmaf(q4.x, k4.x, fmaf(q4.y, k4.y, fmaf(q4.z, k4.z, fmaf(q4.w, k4.w, s[n]))));
      }
    }
    float tmax = -INFINITY;
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      const int64_t j = j0 + c + 8 * n;
      s[n] = (c + 8 * n < n_keys && j <= pos) ? s[n] * a.scale : -INFINITY;  // causal: keys up to pos
      tmax = fmaxf(tmax, s[n]);
    }
    // The 8 threads of a row are 8 consecutive lanes: reduce among them.
#pragma unroll
    for (int o = 4; o > 0; o >>= 1) tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, o, 8));
    const float m_new = fmaxf(m, tmax);
    // A row whose keys all lie past this tile's start (never: position 0 is in the first tile)
    // or a dead row keeps m_new = -inf; its weights are then 0.
    const float corr = m == -INFINITY ? 0.0f : expf(m - m_new);
    float lsum = 0.0f;
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      const float p = s[n] == -INFINITY ? 0.0f : expf(s[n] - m_new);
      ps[r * kPrefillKeys + c + 8 * n] = p;
      lsum += p;
    }
#pragma unroll
    for (int o = 4; o > 0; o >>= 1) lsum += __shfl_xor_sync(0xffffffffu, lsum, o, 8);
    l = l * corr + lsum;
    m = m_new;
#pragma unroll
    for (int n = 0; n < kPrefillMaxDim / 32; ++n) {
      acc[n].x *= corr;
      acc[n].y *= corr;
      acc[n].z *= corr;
      acc[n].w *= corr;
    }
    __syncthreads();  // P is written (a row's 8 lanes would do; the block barrier also holds on HIP)
    for (int kk = 0; kk < n_keys; ++kk) {
      const float p = ps[r * kPrefillKeys + kk];
      const float* vr = vs + kk * dvp;
#pragma unroll
      for (int n = 0; n < kPrefillMaxDim / 32; ++n) {
        const int dd = 4 * c + 32 * n;
        if (dd < dv) {
          const float4 v4 = *reinterpret_cast<const float4*>(vr + dd);
          acc[n].x = fmaf(p, v4.x, acc[n].x);
          acc[n].y = fmaf(p, v4.y, acc[n].y);
          acc[n].z = fmaf(p, v4.z, acc[n].z);
          acc[n].w = fmaf(p, v4.w, acc[n].w);
        }
      }
    }
  }
  if (!live) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  float* o = a.out + t * a.out_tok + int64_t(h) * dv;
#pragma unroll
  for (int n = 0; n < kPrefillMaxDim / 32; ++n) {
    const int dd = 4 * c + 32 * n;
    if (dd < dv)
      *reinterpret_cast<float4*>(o + dd) =
          make_float4(acc[n].x * inv, acc[n].y * inv, acc[n].z * inv, acc[n].w * inv);
  }
}

}  // namespace dse::gpu
