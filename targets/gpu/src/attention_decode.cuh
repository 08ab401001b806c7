// The split kernel of flash-decoding for f16 caches, with each tile of keys and values staged in
// shared memory by 16-byte asynchronous copies: same grid, same partials and same combine kernel
// as split_kernel (split_softmax.cuh), which remains the kernel of f32 and quantized caches.
//
// Why a second kernel: split_kernel reads the cache in 2-byte loads, scores one key per warp
// (a shuffle reduction per key) and then walks the tile's values one position at a time; each
// of those phases waits for the memory system in turn. Nsight Compute on an H200 (one decode
// step at position 511, caches flushed) measured it at 14.8 us per layer for the 1.5B's 12 heads
// and 47.5 us for V2-Lite's MLA (16 heads over a 576-wide latent row), for 0.5 MB of cache. Here
// a block issues the whole tile's copies at once (one round trip to memory per tile), then
// computes from shared memory: a team of 8, 16 or 32 lanes per key for the scores (each lane an
// 8-value slice of q in registers against one 16-byte vector of the key), and for the output
// each thread 8 dims of the value rows over every (256 / (dv / 8))-th key of the tile.
//
// MLA reads its latent rows as both key part 1 and value: the value rows are then not copied
// again but read from the key tile (v_in_k1).
#pragma once

#include <cstdint>

#include "common.cuh"
#include "launch.cuh"
#include "split_softmax.cuh"

namespace dse::gpu {

// 8 warps: at batch 1 a decode step has about one busy block per multiprocessor, so the block's
// own warps are all the latency hiding there is (V2-Lite's MLA at position 511, Nsight on an
// H200: 17.7 us with 4 warps and one key per team at a time, 14.0 with these).
inline constexpr int kDecodeThreads = 256;
inline constexpr int kDecodeWarps = kDecodeThreads / kLanes;
inline constexpr int kDecodeKeysPerTeam = 4;  // keys a team scores together: independent chains
inline constexpr int kDecodeMaxTileKeys = 64;
inline constexpr int kDecodeQVecs = 3;                  // 8-value slices of q per lane: d1 + d2 <= 768
inline constexpr int64_t kDecodeTileBytes = 40 * 1024;  // shared memory of one tile (keys + values)
inline constexpr size_t kDecodeReduceBytes = kDecodeThreads * 8 * sizeof(float);  // the sum over row groups

// Whether a value row is the key's part 1 itself (MLA's latent): read from the key tile.
inline bool decode_v_in_k1(const SplitArgs& a) {
  return a.v == a.k1 && a.v_row == a.k1_row && a.v_head == a.k1_head && a.dv <= a.d1;
}

// Bytes of one key's rows in a tile.
inline int64_t decode_key_bytes(const SplitArgs& a) {
  return int64_t(2) * (a.d1 + a.d2 + (decode_v_in_k1(a) ? 0 : a.dv));
}

// Keys per tile: as many as fit kDecodeTileBytes, a multiple of 8, at most 64 (the scores array).
inline int decode_tile_keys(const SplitArgs& a) {
  const int64_t fit = kDecodeTileBytes / decode_key_bytes(a) / 8 * 8;
  return int(fit < kDecodeMaxTileKeys ? fit : kDecodeMaxTileKeys);
}

inline size_t decode_smem_bytes(const SplitArgs& a) {
  const size_t tile = size_t(decode_tile_keys(a)) * size_t(decode_key_bytes(a));
  return tile > kDecodeReduceBytes ? tile : kDecodeReduceBytes;
}

// The kernel handles these arguments (f16 caches checked by the caller): whole 16-byte vectors
// everywhere, q short enough for the lanes' registers, value rows a power-of-two number of
// vectors that divides the block, 16-byte aligned rows, and at least 8 keys per tile.
inline bool decode_split_applies(const SplitArgs& a) {
  auto aligned = [](const void* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const int nvv = a.dv / 8;
  return a.d1 % 8 == 0 && a.d2 % 8 == 0 && a.dv % 8 == 0 && a.d1 > 0 && a.dv > 0 &&
         (a.d1 + a.d2) / 8 <= kLanes * kDecodeQVecs && nvv <= kDecodeThreads && (nvv & (nvv - 1)) == 0 &&
         a.k1_row % 8 == 0 && a.k1_head % 8 == 0 && (a.d2 == 0 || a.k2_row % 8 == 0) && a.v_row % 8 == 0 &&
         a.v_head % 8 == 0 && aligned(a.k1) && aligned(a.k2) && aligned(a.v) && decode_tile_keys(a) >= 8;
}

// Adds the 8 products of an f16 vector and 8 f32 values to s.
__device__ __forceinline__ float dot8(const uint4& k, const float (&q)[8], float s) {
  const uint32_t w[4] = {k.x, k.y, k.z, k.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
    s = fmaf(q[2 * i], f.x, s);
    s = fmaf(q[2 * i + 1], f.y, s);
  }
  return s;
}

// acc[i] += p * v[i] for the 8 f16 values of v.
__device__ __forceinline__ void axpy8(float p, const uint4& v, float (&acc)[8]) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
    acc[2 * i] = fmaf(p, f.x, acc[2 * i]);
    acc[2 * i + 1] = fmaf(p, f.y, acc[2 * i + 1]);
  }
}

// grid (n_splits, heads, token_cap), kDecodeThreads threads, decode_smem_bytes of dynamic shared
// memory. kTeam: lanes per key for the scores (8, 16 or 32; >= (d1 + d2) / 8 / kDecodeQVecs).
template <int kTeam>
__global__ void __launch_bounds__(kDecodeThreads, 2) decode_split_kernel(SplitArgs a, int tile_keys, bool v_in_k1) {
  grid_dependency_sync();
  const SplitBlock b = split_block(a);
  if (!b.live) return;
  const int tid = threadIdx.x, lane = tid % kLanes, warp = tid / kLanes;
  const int nv1 = a.d1 / 8, nv2 = a.d2 / 8, nvk = nv1 + nv2, nvv = a.dv / 8;
  extern __shared__ uint4 tile[];  // K1 [keys][nv1] | K2 [keys][nv2] | V [keys][nvv] (not when v_in_k1)
  __shared__ float ps[kDecodeMaxTileKeys];
  __shared__ float tile_m, tile_sum;
  uint4* k1s = tile;
  uint4* k2s = k1s + tile_keys * nv1;
  const uint4* vs = v_in_k1 ? k1s : k2s + tile_keys * nv2;
  const int v_stride = v_in_k1 ? nv1 : nvv;
  // Position j of this row's slot, as 16-byte vectors.
  const uint4* k1g = static_cast<const uint4*>(a.k1) + (b.first * a.k1_row + int64_t(b.g) * a.k1_head) / 8;
  const uint4* k2g = a.d2 > 0 ? static_cast<const uint4*>(a.k2) + b.first * a.k2_row / 8 : nullptr;
  const uint4* vg = static_cast<const uint4*>(a.v) + (b.first * a.v_row + int64_t(b.g) * a.v_head) / 8;
  const int64_t k1_step = a.k1_row / 8, k2_step = a.k2_row / 8, v_step = a.v_row / 8;

  // This lane's slices of q: vectors member + i * kTeam of (q1 | q2).
  constexpr int kTeamsPerWarp = kLanes / kTeam;
  const int member = lane % kTeam;
  float q[kDecodeQVecs][8];
  {
    const float* q1 = a.q1 + b.t * a.q1_tok + int64_t(b.h) * a.q1_head;
    const float* q2 = a.d2 > 0 ? a.q2 + b.t * a.q2_tok + int64_t(b.h) * a.q2_head : nullptr;
#pragma unroll
    for (int i = 0; i < kDecodeQVecs; ++i) {
      const int v = member + i * kTeam;
      const float* src = v < nv1 ? q1 + 8 * v : (v < nvk ? q2 + 8 * (v - nv1) : nullptr);
#pragma unroll
      for (int e = 0; e < 8; ++e) q[i][e] = src != nullptr ? src[e] : 0.0f;
    }
  }

  const int row_groups = kDecodeThreads / nvv, rg = tid / nvv, col = tid % nvv;
  float m = -INFINITY, l = 0.0f;
  float acc[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) acc[i] = 0.0f;
  for (int64_t t0 = b.j_begin; t0 < b.j_end; t0 += tile_keys) {
    const int n = int(b.j_end - t0 < tile_keys ? b.j_end - t0 : tile_keys);
    for (int i = tid; i < n * nv1; i += kDecodeThreads) {
      const int j = i / nv1;
      copy_async16(k1s + i, k1g + (t0 + j) * k1_step + (i - j * nv1));
    }
    for (int i = tid; i < n * nv2; i += kDecodeThreads) {
      const int j = i / nv2;
      copy_async16(k2s + i, k2g + (t0 + j) * k2_step + (i - j * nv2));
    }
    if (!v_in_k1) {
      uint4* vd = k2s + tile_keys * nv2;
      for (int i = tid; i < n * nvv; i += kDecodeThreads) {
        const int j = i / nvv;
        copy_async16(vd + i, vg + (t0 + j) * v_step + (i - j * nvv));
      }
    }
    copy_async_wait_all();
    __syncthreads();

    // Scores: team `team` of the block scores keys team + u * teams, u < kDecodeKeysPerTeam, at
    // once (their shared-memory loads in flight together); the loop bound is the same in every lane.
    constexpr int kTeams = kDecodeWarps * kTeamsPerWarp;
    const int team = warp * kTeamsPerWarp + lane / kTeam;
    for (int base = 0; base < n; base += kTeams * kDecodeKeysPerTeam) {
      float s[kDecodeKeysPerTeam];
#pragma unroll
      for (int u = 0; u < kDecodeKeysPerTeam; ++u) {
        const int jj = base + team + u * kTeams;
        s[u] = 0.0f;
        if (jj < n) {
#pragma unroll
          for (int i = 0; i < kDecodeQVecs; ++i) {
            const int v = member + i * kTeam;
            if (v < nvk) s[u] = dot8(v < nv1 ? k1s[jj * nv1 + v] : k2s[jj * nv2 + (v - nv1)], q[i], s[u]);
          }
        }
      }
#pragma unroll
      for (int o = kTeam / 2; o >= 1; o /= 2) {
#pragma unroll
        for (int u = 0; u < kDecodeKeysPerTeam; ++u) s[u] += __shfl_xor_sync(0xffffffffu, s[u], o, kLanes);
      }
#pragma unroll
      for (int u = 0; u < kDecodeKeysPerTeam; ++u) {
        const int jj = base + team + u * kTeams;
        if (member == 0 && jj < n) ps[jj] = a.scale * s[u];
      }
    }
    __syncthreads();

    // The tile's softmax terms, by the first warp (n <= 64: two scores per lane).
    if (warp == 0) {
      const float s0 = lane < n ? ps[lane] : -INFINITY, s1 = lane + kLanes < n ? ps[lane + kLanes] : -INFINITY;
      const float m_new = fmaxf(m, warp_max(fmaxf(s0, s1)));
      const float p0 = lane < n ? expf(s0 - m_new) : 0.0f, p1 = lane + kLanes < n ? expf(s1 - m_new) : 0.0f;
      if (lane < n) ps[lane] = p0;
      if (lane + kLanes < n) ps[lane + kLanes] = p1;
      const float sum = warp_sum(p0 + p1);
      if (lane == 0) {
        tile_m = m_new;
        tile_sum = sum;
      }
    }
    __syncthreads();
    const float m_new = tile_m;
    const float corr = m == -INFINITY ? 0.0f : expf(m - m_new);
    l = l * corr + tile_sum;
    m = m_new;
#pragma unroll
    for (int i = 0; i < 8; ++i) acc[i] *= corr;
#pragma unroll 4
    for (int jj = rg; jj < n; jj += row_groups) axpy8(ps[jj], vs[jj * v_stride + col], acc);
    __syncthreads();  // the next tile overwrites the shared memory
  }

  // Sum the row groups' partial outputs in a fixed order.
  float* red = reinterpret_cast<float*>(tile);  // [row_groups][dv]: kDecodeReduceBytes
#pragma unroll
  for (int i = 0; i < 8; ++i) red[rg * a.dv + 8 * col + i] = acc[i];
  __syncthreads();
  for (int d = tid; d < a.dv; d += kDecodeThreads) {
    float sum = 0.0f;
    for (int r = 0; r < row_groups; ++r) sum += red[r * a.dv + d];
    b.po[d] = sum;
  }
  if (tid == 0) {
    b.ml[0] = m;
    b.ml[1] = l;
  }
}

// Whether the split of (a) runs this kernel: f16 caches (the caller knows), the arguments it
// handles, and DSE_GPU_DECODE_ATTENTION not "split" (read at every launch, so tests can switch it;
// "split" keeps split_kernel for every cache).
inline bool decode_split_chosen(const SplitArgs& a, bool f16_caches) {
  if (env_is("DSE_GPU_DECODE_ATTENTION", "split")) return false;
  return f16_caches && decode_split_applies(a);
}

// Launches decode_split_kernel over (n_splits, heads, token_cap); decode_split_applies(a) holds.
inline void launch_decode_split_kernel(const SplitArgs& a, GpuStream stream) {
  const dim3 grid(unsigned(a.plan.n_splits), unsigned(a.heads), unsigned(a.token_cap));
  const int nvk = (a.d1 + a.d2) / 8, keys = decode_tile_keys(a);
  const bool v_in_k1 = decode_v_in_k1(a);
  const size_t smem = decode_smem_bytes(a);
  if (nvk <= 8)
    launch_kernel(decode_split_kernel<8>, grid, kDecodeThreads, smem, stream, a, keys, v_in_k1);
  else if (nvk <= 16)
    launch_kernel(decode_split_kernel<16>, grid, kDecodeThreads, smem, stream, a, keys, v_in_k1);
  else
    launch_kernel(decode_split_kernel<32>, grid, kDecodeThreads, smem, stream, a, keys, v_in_k1);
}

}  // namespace dse::gpu
