// Flash-decoding building blocks shared by attention_f32 and mla_attention_f32: a split kernel
// that runs an online softmax over one chunk of the cache per block, and a combine kernel that
// merges the chunks' partial results. Grids are sized from the cache capacity of one slot (the
// cache's rows / GpuStep::slots), never from the current position, so a graph captured once serves
// every step; chunks past a token's position exit at once and leave an empty partial (m = -inf,
// l = 0). Row t reads only its own slot's rows (kernel_abi.h cache_row).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common.cuh"
#include "kv_cache.cuh"
#include "launch.cuh"
#include "scratch_layout.h"

namespace dse::gpu {

// SplitPlan, plan_splits, host_slot_rows and the scratch bounds: scratch_layout.h (host code,
// shared with the workspace sizing).

struct SplitArgs {
  // Query part 1 of token t, head h: q1 + t * q1_tok + h * q1_head (d1 values).
  const float* q1; int64_t q1_tok, q1_head; int d1;
  // Optional query part 2 (MLA's rope part): d2 = 0 when absent.
  const float* q2; int64_t q2_tok, q2_head; int d2;
  // Key part 1 of position j for kv head g: k1 + j * k1_row + g * k1_head. Key part 2 has no head.
  const void* k1; int64_t k1_row, k1_head;
  const void* k2; int64_t k2_row;
  // Value of position j for kv head g: v + j * v_row + g * v_head (dv values).
  const void* v; int64_t v_row, v_head; int dv;
  // Scale slots of quantized caches (kv_cache.cuh; null for F32/F16): key part 1 of (j, g) is
  // scaled by k1_scales[j * k1_scale_row + g], key part 2 of j by k2_scales[j], the value of
  // (j, g) by v_scales[j * v_scale_row + g].
  const float* k1_scales; int64_t k1_scale_row;
  const float* k2_scales;
  const float* v_scales; int64_t v_scale_row;
  int heads;           // query heads
  int heads_per_kv;    // query heads sharing one kv head
  float scale;
  int64_t cache_rows;  // S, all slots
  // Rows of one slot: host_slot_rows(cache_rows, GpuStep::slots), which the runtime keeps equal to
  // the device step's slot_rows. Passed in rather than divided on the device: the 64-bit division
  // took the prefill split kernel from 96 to 168 registers and made it a third slower.
  int64_t slot_rows;
  SplitPlan plan;
  int64_t token_cap;
  float* part_out;     // [T, H, n_splits, dv]
  float* part_ml;      // [T, H, n_splits, 2]
  const StepInfo* step;
  GpuErrorRecord* err;
  GpuOp op;
};

// What block (chunk, head h, row t) of a split kernel works on: the row's positions [j_begin,
// j_end) of its chunk in the slot whose position 0 is cache row `first`, kv head g, and where its
// partial result goes (ml: max and sum, po: dv outputs). Not live when the row is past the step,
// a position is out of its slot (recorded in a.err), or the chunk starts past the row's position
// (then the block has written its empty partial: m = -inf, l = 0).
struct SplitBlock {
  int h, g;
  int64_t t, first, j_begin, j_end;
  float* ml;
  float* po;
  bool live;
};

__device__ __forceinline__ SplitBlock split_block(const SplitArgs& a) {
  SplitBlock b{};
  const int64_t split = blockIdx.x;
  b.h = blockIdx.y;
  b.t = blockIdx.z;
  const int64_t rows = step_rows(a.step, a.token_cap);
  if (b.t >= rows || !positions_ok(a.step, rows, a.slot_rows, a.err, a.op)) return b;
  const int64_t pos = row_position(*a.step, b.t);
  b.first = row_slot(*a.step, b.t) * a.slot_rows;
  b.g = b.h / a.heads_per_kv;
  b.j_begin = split * a.plan.chunk;
  b.j_end = pos + 1 < b.j_begin + a.plan.chunk ? pos + 1 : b.j_begin + a.plan.chunk;
  const int64_t slot = (b.t * a.heads + b.h) * a.plan.n_splits + split;
  b.ml = a.part_ml + slot * 2;
  b.po = a.part_out + slot * a.dv;
  b.live = b.j_begin < b.j_end;
  if (!b.live && threadIdx.x == 0) {
    b.ml[0] = -INFINITY;
    b.ml[1] = 0.0f;
  }
  return b;
}

// Keys scored per pass: scores live in shared memory, one warp per key.
inline constexpr int kSplitTile = 64;

// Shared memory of the split kernel, bytes.
inline size_t split_smem_bytes(int d1, int d2) { return size_t(d1 + d2 + kSplitTile + 32) * sizeof(float); }

// Blocks per multiprocessor the split kernel is compiled for, which caps its registers where they
// were before rows could live in different cache slots: left alone, ptxas gave the instances 158
// to 241 registers (80 to 128 before) and a 512-token prefill's attention took a third longer on
// an H200 (12.3 -> 16.4 ms for the 1.5B). f32/f16 caches: 5 blocks of 128 threads (96 registers)
// or 128 registers per thread (MLA's 256 threads), which ptxas -v shows without spills. The int8 /
// fp8 caches' instances would spill at those bounds and keep ptxas's choice (not yet measured).
template <typename S1, typename S2, typename SV, int kThreads>
constexpr int split_min_blocks() {
  if (kScaledCache<S1> || kScaledCache<S2> || kScaledCache<SV>) return 1;
  return kThreads <= 128 ? 5 : 65536 / (kThreads * 128);
}

// grid (n_splits, heads, token_cap), kThreads threads; dv <= kThreads * kDimsPerThread. A quantized
// storage (kScaledCache) multiplies the finished key dot product, or the softmax weight of the
// value row, by the row's scale.
template <typename S1, typename S2, typename SV, int kThreads, int kDimsPerThread>
__global__ void __launch_bounds__(kThreads, (split_min_blocks<S1, S2, SV, kThreads>())) split_kernel(SplitArgs a) {
  grid_dependency_sync();
  const SplitBlock b = split_block(a);
  if (!b.live) return;
  const int h = b.h, g = b.g;
  const int64_t t = b.t, first = b.first, j_begin = b.j_begin, j_end = b.j_end;
  float* ml = b.ml;
  float* po = b.po;
  extern __shared__ float smem[];
  float* q1s = smem;
  float* q2s = q1s + a.d1;
  float* ps = q2s + a.d2;
  float* scratch = ps + kSplitTile;
  const float* q1 = a.q1 + t * a.q1_tok + int64_t(h) * a.q1_head;
  for (int i = threadIdx.x; i < a.d1; i += kThreads) q1s[i] = q1[i];
  if (a.d2 > 0) {
    const float* q2 = a.q2 + t * a.q2_tok + int64_t(h) * a.q2_head;
    for (int i = threadIdx.x; i < a.d2; i += kThreads) q2s[i] = q2[i];
  }
  __syncthreads();
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes;
  constexpr int kWarps = kThreads / kLanes;
  // Position j of this row's slot: cache row first + j.
  const typename S1::type* k1 = static_cast<const typename S1::type*>(a.k1) + first * a.k1_row + int64_t(g) * a.k1_head;
  const typename S2::type* k2 = static_cast<const typename S2::type*>(a.k2) + first * a.k2_row;
  const typename SV::type* vv = static_cast<const typename SV::type*>(a.v) + first * a.v_row + int64_t(g) * a.v_head;
  float m = -INFINITY, l = 0.0f;
  float acc[kDimsPerThread];
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) acc[i] = 0.0f;
  for (int64_t tile = j_begin; tile < j_end; tile += kSplitTile) {
    const int n = int(j_end - tile < kSplitTile ? j_end - tile : kSplitTile);
    // One warp per key, kKeys keys per warp at a time so that their loads are in flight together.
    constexpr int kKeys = 8;
    for (int jj0 = warp; jj0 < n; jj0 += kWarps * kKeys) {
      float s1[kKeys], s2[kKeys];
      const typename S1::type* kr[kKeys];
      const typename S2::type* kr2[kKeys];
#pragma unroll
      for (int u = 0; u < kKeys; ++u) {
        const int jj = jj0 + u * kWarps;
        const int64_t j = tile + (jj < n ? jj : jj0);  // a key past the tile repeats one in it
        kr[u] = k1 + j * a.k1_row;
        kr2[u] = k2 + j * a.k2_row;
        s1[u] = 0.0f;
        s2[u] = 0.0f;
      }
      for (int d = lane; d < a.d1; d += kLanes) {
        const float q = q1s[d];
#pragma unroll
        for (int u = 0; u < kKeys; ++u) s1[u] = fmaf(q, S1::load(kr[u], d), s1[u]);
      }
      if (a.d2 > 0) {
        for (int d = lane; d < a.d2; d += kLanes) {
          const float q = q2s[d];
#pragma unroll
          for (int u = 0; u < kKeys; ++u) s2[u] = fmaf(q, S2::load(kr2[u], d), s2[u]);
        }
      }
#pragma unroll
      for (int u = 0; u < kKeys; ++u) {
        float v1 = warp_sum(s1[u]);
        float v2 = a.d2 > 0 ? warp_sum(s2[u]) : 0.0f;
        const int jj = jj0 + u * kWarps;
        if (lane == 0 && jj < n) {
          const int64_t j = tile + jj;
          if constexpr (kScaledCache<S1>) v1 *= a.k1_scales[(first + j) * a.k1_scale_row + g];
          if constexpr (kScaledCache<S2>) v2 *= a.k2_scales[first + j];
          ps[jj] = a.scale * (v1 + v2);
        }
      }
    }
    __syncthreads();
    float tmax = -INFINITY;
    for (int jj = threadIdx.x; jj < n; jj += kThreads) tmax = fmaxf(tmax, ps[jj]);
    tmax = block_max(tmax, scratch);
    const float m_new = fmaxf(m, tmax);
    const float corr = m == -INFINITY ? 0.0f : expf(m - m_new);
    float lsum = 0.0f;
    for (int jj = threadIdx.x; jj < n; jj += kThreads) {
      const float p = expf(ps[jj] - m_new);
      ps[jj] = p;
      lsum += p;
    }
    l = l * corr + block_sum(lsum, scratch);  // block_sum's barriers also publish ps
#pragma unroll
    for (int i = 0; i < kDimsPerThread; ++i) acc[i] *= corr;
#pragma unroll 16
    for (int jj = 0; jj < n; ++jj) {
      float p = ps[jj];
      if constexpr (kScaledCache<SV>) p *= a.v_scales[(first + tile + jj) * a.v_scale_row + g];
      const typename SV::type* vr = vv + (tile + jj) * a.v_row;
#pragma unroll
      for (int i = 0; i < kDimsPerThread; ++i) {
        const int d = threadIdx.x + i * kThreads;
        if (d < a.dv) acc[i] = fmaf(p, SV::load(vr, d), acc[i]);
      }
    }
    m = m_new;
    __syncthreads();  // ps is rewritten by the next tile
  }
#pragma unroll
  for (int i = 0; i < kDimsPerThread; ++i) {
    const int d = threadIdx.x + i * kThreads;
    if (d < a.dv) po[d] = acc[i];
  }
  if (threadIdx.x == 0) { ml[0] = m; ml[1] = l; }
}

// Launches split_kernel over (n_splits, heads, token_cap) with its shared memory.
template <typename S1, typename S2, typename SV, int kThreads, int kDimsPerThread>
void launch_split_kernel(const SplitArgs& a, GpuStream stream) {
  const dim3 grid(unsigned(a.plan.n_splits), unsigned(a.heads), unsigned(a.token_cap));
  launch_kernel(split_kernel<S1, S2, SV, kThreads, kDimsPerThread>, grid, kThreads, split_smem_bytes(a.d1, a.d2),
                stream, a);
}

// combine_kernel's dynamic shared memory: one weight per split, rounded up to whole groups of 4
// (zeroed by the kernel). ptxas loads the remainder of the unrolled weights loop as one vector that
// may reach 3 floats past n_splits; compute-sanitizer memcheck flagged that read ("Invalid __shared__
// read of size 12 bytes") with n_splits = 1, so the allocation covers it.
inline size_t combine_smem_bytes(int64_t n_splits) { return size_t((n_splits + 3) / 4 * 4) * sizeof(float); }

// Merges the splits of (token, head) into out + t * out_tok + h * out_head (dv values):
// out = sum_s exp(m_s - M) o_s / sum_s exp(m_s - M) l_s. grid (heads, token_cap), 128 threads,
// combine_smem_bytes(n_splits) of dynamic shared memory. (A template only so that the header can
// be included by several sources.)
template <int kThreads = 128>
__global__ void __launch_bounds__(kThreads) combine_kernel(const float* part_out, const float* part_ml, SplitPlan plan,
                                                      int heads, int dv, float* out, int64_t out_tok, int64_t out_head,
                                                      int64_t cache_rows, int64_t token_cap, const StepInfo* step) {
  grid_dependency_sync();
  const int h = blockIdx.x;
  const int64_t t = blockIdx.y;
  const int64_t rows = step_rows(step, token_cap);
  if (t >= rows || !positions_fit(step, rows, slot_rows(*step, cache_rows))) return;  // the split kernel recorded it
  extern __shared__ float weights[];
  __shared__ float scratch[kThreads / kLanes];
  const int64_t base = (t * heads + h) * plan.n_splits;
  // All threads share the (m, l) pairs: with up to 256 splits a serial loop would be the kernel.
  float mx = -INFINITY;
  for (int64_t s = threadIdx.x; s < plan.n_splits; s += kThreads) mx = fmaxf(mx, part_ml[(base + s) * 2]);
  mx = block_max(mx, scratch);
  float l = 0.0f;
  for (int64_t s = threadIdx.x; s < plan.n_splits; s += kThreads) {
    const float ms = part_ml[(base + s) * 2];
    const float w = ms == -INFINITY ? 0.0f : expf(ms - mx);
    weights[s] = w;
    l += w * part_ml[(base + s) * 2 + 1];
  }
  const int64_t padded = (plan.n_splits + 3) / 4 * 4;
  for (int64_t s = plan.n_splits + threadIdx.x; s < padded; s += kThreads) weights[s] = 0.0f;
  const float total = block_sum(l, scratch);  // its barriers also publish weights[]
  const float inv = 1.0f / total;
  // Only the splits up to the row's position wrote partial outputs (the rest hold stale bytes):
  // those are the first `live`, so the loop needs no test per split, and each thread keeps the
  // loads of kDims dims in flight together (a test per split made every load wait for the one
  // before it: 15 us for V2-Lite's MLA at position 511, Nsight Compute on an H200).
  const int64_t pos = row_position(*step, t);
  const int64_t live = std::min<int64_t>(plan.n_splits, pos / plan.chunk + 1);
  constexpr int kDims = 4;
  float* o = out + t * out_tok + int64_t(h) * out_head;
  for (int d0 = 0; d0 < dv; d0 += kDims * kThreads) {
    float sum[kDims];
#pragma unroll
    for (int k = 0; k < kDims; ++k) sum[k] = 0.0f;
    for (int64_t s = 0; s < live; ++s) {
      const float w = weights[s];
      const float* p = part_out + (base + s) * dv;
#pragma unroll
      for (int k = 0; k < kDims; ++k) {
        const int d = d0 + threadIdx.x + k * kThreads;
        if (d < dv) sum[k] = fmaf(w, p[d], sum[k]);
      }
    }
#pragma unroll
    for (int k = 0; k < kDims; ++k) {
      const int d = d0 + threadIdx.x + k * kThreads;
      if (d < dv) o[d] = sum[k] * inv;
    }
  }
}

}  // namespace dse::gpu
