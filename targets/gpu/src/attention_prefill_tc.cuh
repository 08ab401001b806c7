// Prefill attention on tensor cores (attention_f32 over a chunk of one sequence's rows, f16
// caches, head dims 64 or 128; CUDA only). The CUDA-core kernel of attention_prefill.cuh ran at
// about 3 TFLOP/s: on an H200 a 512-token prefill spent 640 us per 7B layer in it (a third of the
// prefill) and 390 us per 1.5B layer (Nsight Compute, session 7).
//
// Flash attention 2's scheme with mma.sync m16n8k16 (mma_sm80.cuh): a block of 4 warps takes 64
// query rows of one head, each warp 16 rows, and walks the keys of the slot in tiles of 64 that
// cp.async brings into shared memory one tile ahead (two buffers). Per tile a warp computes its
// 16 x 64 scores S = Q K^T into f32 accumulators, masks the keys past each row's position, updates
// the running max and sum of each row (softmax in base 2: Q is scaled by scale * log2 e), turns
// exp2(S - max) into f16 A fragments in registers (the accumulator layout of two n-tiles is the A
// layout of one k-step) and accumulates P V into f32 (flash_tile.cuh, shared with MLA's prefill
// kernel). Tiles past a warp's last position are skipped by that warp.
//
// Inputs rounded to f16: Q (scaled, f32 in the arena) and P; K and V already are f16. Scores,
// sums and the output stay in f32. DSE_GPU_TC_PREFILL=0 keeps the CUDA-core kernel.
#pragma once

#if !defined(DSE_GPU_HIP)

#include <cstdint>

#include "attention_prefill.cuh"
#include "common.cuh"
#include "flash_tile.cuh"
#include "mma_sm80.cuh"

namespace dse::gpu {

inline constexpr int kTcPrefillRows = 64;  // query rows per block, 16 per warp
inline constexpr int kTcPrefillKeys = 64;  // keys per tile
inline constexpr int kTcPrefillThreads = 128;
inline constexpr int kTcPrefillPad = 8;  // halves after each shared row: ldmatrix's 8 rows hit 8 bank groups

// Two buffers of a K tile [64][D + pad] and a V tile [64][DV + pad], f16.
template <int D, int DV>
constexpr size_t prefill_tc_smem_bytes() {
  return size_t(2) * kTcPrefillKeys * size_t((D + kTcPrefillPad) + (DV + kTcPrefillPad)) * sizeof(__half);
}

// Keys [j0, j0 + 64) of the slot into buffer `buf`: 16-byte copies, keys past `keys` zeroed (a
// masked key's V must be finite: its weight 0 times V is added).
template <int D, int DV>
__device__ __forceinline__ void prefill_tc_load_tile(const __half* kb, const __half* vb, int64_t k_row, int64_t v_row,
                                                     int64_t j0, int64_t keys, __half* ks, __half* vs) {
  constexpr int KC = D / 8, VC = DV / 8;  // 16-byte chunks per row
  const int64_t n_keys = keys - j0 < kTcPrefillKeys ? keys - j0 : kTcPrefillKeys;
  for (int i = threadIdx.x; i < kTcPrefillKeys * KC; i += kTcPrefillThreads) {
    const int j = i / KC, c = i % KC;
    __half* dst = ks + j * (D + kTcPrefillPad) + c * 8;
    if (j < n_keys) copy_async16(dst, kb + (j0 + j) * k_row + c * 8);
    else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
  }
  for (int i = threadIdx.x; i < kTcPrefillKeys * VC; i += kTcPrefillThreads) {
    const int j = i / VC, c = i % VC;
    __half* dst = vs + j * (DV + kTcPrefillPad) + c * 8;
    if (j < n_keys) copy_async16(dst, vb + (j0 + j) * v_row + c * 8);
    else *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);
  }
}

// grid (ceil(token_cap / 64), query heads), 128 threads, prefill_tc_smem_bytes<D, DV>() of
// dynamic shared memory. a.d == D and a.dv == DV; the caches f16 with 16-byte aligned rows.
template <int D, int DV>
__global__ void __launch_bounds__(kTcPrefillThreads) prefill_attention_tc_kernel(PrefillAttentionArgs a) {
  static_assert(D % 16 == 0 && DV % 16 == 0, "head dims in whole k-steps");
  constexpr int KS = D + kTcPrefillPad, VS = DV + kTcPrefillPad;
  constexpr int NT = kTcPrefillKeys / 8;  // score n-tiles per key tile
  grid_dependency_sync();
  const int64_t rows = step_rows(a.step, a.token_cap);
  const int64_t t0 = int64_t(blockIdx.x) * kTcPrefillRows;
  if (t0 >= rows) return;
  if (!one_sequence_step_ok(a.step, rows, a.slot_rows, a.err, GpuOp::attention)) return;
  const int h = blockIdx.y, kv_head = h / a.heads_per_kv;
  const int warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const int qr = lane / 4, qc = 2 * (lane % 4);  // fragment row and column (mma_sm80.cuh)
  const int64_t start = a.step->start_pos;
  const int64_t first = a.step->slot * a.slot_rows;  // cache row of the slot's position 0
  const int64_t last_row = rows - 1 < t0 + kTcPrefillRows - 1 ? rows - 1 : t0 + kTcPrefillRows - 1;
  const int64_t keys = start + last_row + 1;  // positions the block's last row sees
  const int64_t tw = t0 + warp * 16;          // the warp's first row
  const int64_t pos0 = start + tw + qr, pos1 = pos0 + 8;  // positions of the thread's two rows

  extern __shared__ float4 smem4[];
  __half* ks = reinterpret_cast<__half*>(smem4);  // [2][64][KS]
  __half* vs = ks + 2 * kTcPrefillKeys * KS;      // [2][64][VS]
  const __half* kb = static_cast<const __half*>(a.k) + first * a.k_row + int64_t(kv_head) * D;
  const __half* vb = static_cast<const __half*>(a.v) + first * a.v_row + int64_t(kv_head) * DV;

  prefill_tc_load_tile<D, DV>(kb, vb, a.k_row, a.v_row, 0, keys, ks, vs);
  copy_async_commit();

  // The warp's Q rows as A fragments, times scale * log2(e); rows past the step's are zero.
  uint32_t qf[D / 16][4];
  {
    const float qs = a.scale * 1.4426950408889634f;
    const bool live0 = tw + qr <= last_row, live1 = tw + qr + 8 <= last_row;
    const float* q0 = a.q + (tw + qr) * a.q_tok + int64_t(h) * D;
    const float* q1 = q0 + 8 * a.q_tok;
    const float2 zero = make_float2(0.0f, 0.0f);
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const float2 x0 = live0 ? *reinterpret_cast<const float2*>(q0 + kk * 16 + qc) : zero;
      const float2 x1 = live1 ? *reinterpret_cast<const float2*>(q1 + kk * 16 + qc) : zero;
      const float2 x2 = live0 ? *reinterpret_cast<const float2*>(q0 + kk * 16 + qc + 8) : zero;
      const float2 x3 = live1 ? *reinterpret_cast<const float2*>(q1 + kk * 16 + qc + 8) : zero;
      qf[kk][0] = pack_half2(x0.x * qs, x0.y * qs);
      qf[kk][1] = pack_half2(x1.x * qs, x1.y * qs);
      qf[kk][2] = pack_half2(x2.x * qs, x2.y * qs);
      qf[kk][3] = pack_half2(x3.x * qs, x3.y * qs);
    }
  }

  FlashRows<DV / 8> fr;
  const int64_t n_tiles = ceil_div(keys, kTcPrefillKeys);
  for (int64_t it = 0; it < n_tiles; ++it) {
    const int buf = int(it & 1);
    const int64_t j0 = it * kTcPrefillKeys;
    // The next tile into the other buffer (read last in the previous iteration, before its
    // closing barrier); an empty group on the last tile keeps the wait below uniform.
    if (it + 1 < n_tiles)
      prefill_tc_load_tile<D, DV>(kb, vb, a.k_row, a.v_row, j0 + kTcPrefillKeys, keys,
                                  ks + (buf ^ 1) * kTcPrefillKeys * KS, vs + (buf ^ 1) * kTcPrefillKeys * VS);
    copy_async_commit();
    copy_async_wait_but_one();
    __syncthreads();
    if (j0 <= start + tw + 15) {  // some key of the tile is visible to a row of this warp
      const __half* kt = ks + buf * kTcPrefillKeys * KS;
      float s[NT][4];
#pragma unroll
      for (int n = 0; n < NT; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
      // S = Q K^T. One ldmatrix_x4 brings the B registers of two n-tiles (16 keys) for a k-step:
      // matrices (keys 0-7, dims 0-7), (keys 0-7, dims 8-15), (keys 8-15, dims 0-7), (keys 8-15, dims 8-15).
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
#pragma unroll
        for (int nj = 0; nj < NT / 2; ++nj) {
          uint32_t b[4];
          ldmatrix_x4(b, kt + (nj * 16 + (lane % 8) + (lane / 16) * 8) * KS + kk * 16 + ((lane / 8) % 2) * 8);
          mma_16816(s[2 * nj], qf[kk], b[0], b[1]);
          mma_16816(s[2 * nj + 1], qf[kk], b[2], b[3]);
        }
      }
      // Causal mask, where the tile reaches past the warp's first position.
      if (j0 + kTcPrefillKeys - 1 > start + tw) FlashRows<DV / 8>::mask(s, j0, qc, pos0, pos1);
      float base[2];
      fr.rescale(s, base);
      fr.accumulate(s, base, vs + buf * kTcPrefillKeys * VS, VS, 0, lane);
    }
    __syncthreads();  // this buffer is refilled by the next iteration's copies
  }

  float inv[2];
  fr.finish(inv);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t t = tw + qr + 8 * r;
    if (t <= last_row) fr.store_row(r, inv[r], a.out + t * a.out_tok + int64_t(h) * DV + qc);
  }
}

}  // namespace dse::gpu

#endif  // !DSE_GPU_HIP
