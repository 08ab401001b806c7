// MLA prefill attention on tensor cores (mla_attention_f32 over a chunk of one sequence's rows,
// f16 latent and rope caches, latent rank 512 and rope dim 64 as in DeepSeek-V2/V3; CUDA only).
// It replaces the split and combine kernels between the absorption and the W_UV projection: the
// decode kernels took 988 us per V2-Lite layer for a 512-token prefill, a third of its prefill
// (Nsight Compute, H200, session 7).
//
// The absorbed form is multi-query attention with 576-wide keys (latent 512 + rope 64) and the
// 512-wide latent as values, shared by all heads. A row here is a (token, head) pair, row
// t * H + h; a block of 4 warps takes 64 rows (16 per warp) and one 128-wide slice of the latent
// output (blockIdx.z), and walks the keys in tiles of 64. Q (q_abs | q_pe, scaled by scale *
// log2 e) and the key tile sit in shared memory as f16, 73 KB each; per tile a warp computes its
// 16 x 64 scores with mma.sync from ldmatrix fragments of both, masks the keys past each row's
// position, updates the running max and sum (base 2) and accumulates P times its latent slice,
// read transposed from the same key tile. Each of the 4 output slices recomputes the scores:
// 4 x 576 + 512 products per (row, key) against 1088, the price of keeping 16 x 128 f32
// accumulators per warp instead of 16 x 512.
//
// Inputs rounded to f16: Q (f32 in the workspace and the op's q) and P; the caches already are.
// Needs 146 KB of shared memory per block: sm_80, sm_87 and sm_90 have it, sm_89 and sm_120 (99
// KB) keep the split kernels (the launcher asks for the limit and falls back). DSE_GPU_TC_MLA=0
// keeps the split kernels everywhere.
#pragma once

#if !defined(DSE_GPU_HIP)

#include <cstdint>

#include "common.cuh"
#include "flash_tile.cuh"
#include "mma_sm80.cuh"

namespace dse::gpu {

struct MlaPrefillArgs {
  const float* q_abs;  // [T, H, C] f32: row t * H + h at (t * H + h) * C
  const float* q_pe;   // row t, head h: q_pe + t * q_tok + h * q_head (the op's q, offset by dn)
  int64_t q_tok, q_head;
  const __half* latent;  // [rows, C]
  const __half* pe;      // [rows, DR]
  float* o_lat;          // [T, H, C]
  int64_t heads;
  float scale;
  int64_t slot_rows;  // rows of one cache slot (host_slot_rows)
  int64_t token_cap;
  const StepInfo* step;
  GpuErrorRecord* err;
};

inline constexpr int kMlaTcRows = 64;    // (token, head) rows per block, 16 per warp
inline constexpr int kMlaTcKeys = 64;    // keys per tile
inline constexpr int kMlaTcSlice = 128;  // latent output dims per block (blockIdx.z)
inline constexpr int kMlaTcThreads = 128;
inline constexpr int kMlaTcPad = 8;  // halves after each shared row: ldmatrix's 8 rows hit 8 bank groups

template <int C, int DR>
constexpr size_t mla_prefill_tc_smem_bytes() {
  return size_t(kMlaTcRows + kMlaTcKeys) * (C + DR + kMlaTcPad) * sizeof(__half);
}

// grid (ceil(token_cap * H / 64), 1, C / 128), 128 threads, mla_prefill_tc_smem_bytes<C, DR>().
template <int C, int DR>
__global__ void __launch_bounds__(kMlaTcThreads) mla_prefill_tc_kernel(MlaPrefillArgs a) {
  constexpr int D = C + DR, S = D + kMlaTcPad;
  constexpr int NT = kMlaTcKeys / 8;
  static_assert(C % kMlaTcSlice == 0 && DR % 16 == 0, "whole slices and k-steps");
  grid_dependency_sync();
  const int64_t rows = step_rows(a.step, a.token_cap);
  const int64_t live_rows = rows * a.heads;
  const int64_t r0 = int64_t(blockIdx.x) * kMlaTcRows;
  if (r0 >= live_rows) return;
  if (!one_sequence_step_ok(a.step, rows, a.slot_rows, a.err, GpuOp::mla_attention)) return;
  const int warp = threadIdx.x / kLanes, lane = threadIdx.x % kLanes;
  const int qr = lane / 4, qc = 2 * (lane % 4);
  const int64_t start = a.step->start_pos;
  const int64_t first = a.step->slot * a.slot_rows;
  const int64_t last = live_rows - 1 < r0 + kMlaTcRows - 1 ? live_rows - 1 : r0 + kMlaTcRows - 1;
  const int64_t keys = start + last / a.heads + 1;  // positions the block's last row sees
  const int64_t rw = r0 + warp * 16;                // the warp's first row
  const int64_t pos0 = start + (rw + qr) / a.heads, pos1 = start + (rw + qr + 8) / a.heads;
  const int64_t warp_first = start + rw / a.heads;
  const int64_t warp_last = start + (rw + 15 < last ? rw + 15 : last) / a.heads;
  const int slice = int(blockIdx.z) * kMlaTcSlice;

  extern __shared__ float4 smem4[];
  __half* qs = reinterpret_cast<__half*>(smem4);  // [64][S]
  __half* ks = qs + kMlaTcRows * S;               // [64][S]

  // Q rows as f16, 8 values per 16-byte entry: q_abs for dims < C, q_pe after; rows past the
  // step's are zero.
  const float qscale = a.scale * 1.4426950408889634f;
  for (int i = threadIdx.x; i < kMlaTcRows * (D / 8); i += kMlaTcThreads) {
    const int rr = i / (D / 8), col = (i % (D / 8)) * 8;
    const int64_t row = r0 + rr;
    uint4 v = make_uint4(0, 0, 0, 0);
    if (row < live_rows) {
      const int64_t t = row / a.heads, h = row % a.heads;
      const float* src = col < C ? a.q_abs + row * C + col : a.q_pe + t * a.q_tok + h * a.q_head + (col - C);
      const float4 x = *reinterpret_cast<const float4*>(src), y = *reinterpret_cast<const float4*>(src + 4);
      v = make_uint4(pack_half2(x.x * qscale, x.y * qscale), pack_half2(x.z * qscale, x.w * qscale),
                     pack_half2(y.x * qscale, y.y * qscale), pack_half2(y.z * qscale, y.w * qscale));
    }
    *reinterpret_cast<uint4*>(qs + rr * S + col) = v;
  }

  FlashRows<kMlaTcSlice / 8> fr;
  for (int64_t j0 = 0; j0 < keys; j0 += kMlaTcKeys) {
    const int64_t n_keys = keys - j0 < kMlaTcKeys ? keys - j0 : kMlaTcKeys;
    __syncthreads();  // the previous tile is no longer read (and Q is written)
    for (int i = threadIdx.x; i < kMlaTcKeys * (D / 8); i += kMlaTcThreads) {
      const int j = i / (D / 8), col = (i % (D / 8)) * 8;
      __half* dst = ks + j * S + col;
      if (j < n_keys) {
        const int64_t cache_row = first + j0 + j;
        copy_async16(dst, col < C ? a.latent + cache_row * C + col : a.pe + cache_row * DR + (col - C));
      } else {
        *reinterpret_cast<uint4*>(dst) = make_uint4(0, 0, 0, 0);  // a masked key's value must be finite
      }
    }
    copy_async_wait_all();
    __syncthreads();
    if (j0 > warp_last) continue;  // no row of this warp sees a key of the tile (uniform per warp)
    float s[NT][4];
#pragma unroll
    for (int n = 0; n < NT; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll 4
    for (int kk = 0; kk < D / 16; ++kk) {
      uint32_t qa[4];
      ldmatrix_x4(qa, qs + (warp * 16 + (lane % 16)) * S + kk * 16 + (lane / 16) * 8);
#pragma unroll
      for (int nj = 0; nj < NT / 2; ++nj) {
        uint32_t b[4];
        ldmatrix_x4(b, ks + (nj * 16 + (lane % 8) + (lane / 16) * 8) * S + kk * 16 + ((lane / 8) % 2) * 8);
        mma_16816(s[2 * nj], qa, b[0], b[1]);
        mma_16816(s[2 * nj + 1], qa, b[2], b[3]);
      }
    }
    // Causal mask where the tile reaches past a row's position.
    if (j0 + kMlaTcKeys - 1 > warp_first) FlashRows<kMlaTcSlice / 8>::mask(s, j0, qc, pos0, pos1);
    float base[2];
    fr.rescale(s, base);
    fr.accumulate(s, base, ks, S, slice, lane);  // V: the key tile's first C dims
  }

  float inv[2];
  fr.finish(inv);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = rw + qr + 8 * r;
    if (row <= last) fr.store_row(r, inv[r], a.o_lat + row * C + slice + qc);
  }
}

}  // namespace dse::gpu

#endif  // !DSE_GPU_HIP
