// How the GPU kernels lay out their scratch, as host arithmetic (no GPU toolchain): the launchers
// place their buffers with these functions and kernel_workspace_bytes (dse/gpu/workspace.h) sizes
// the workspace with the same ones, so the session's workspace and dsc's memory plan cannot
// drift from what the kernels use. Defined in workspace.cpp where not inline.
#pragma once

#include <algorithm>
#include <cstdint>

#include "dse/cpu/weight_format.h"
#include "dse/gpu/workspace.h"
#include "dse/targets/kernel_abi.h"

namespace dse::gpu {

// Host side: whether environment variable `name` is set to exactly `value` (the DSE_GPU_* switches).
bool env_is(const char* name, const char* value);

DSE_HOST_DEVICE inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
DSE_HOST_DEVICE inline uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// --- Flash-decoding (split_softmax.cuh): how one slot of a KV cache is cut into chunks.

struct SplitPlan {
  int64_t n_splits = 1;
  int64_t chunk = 1;
};

// The splits before rounding to whole chunks: never fewer than plan_splits gives for these or
// fewer rows, which is what lets the workspace be sized without knowing the slots.
inline int64_t split_bound(int64_t slot_rows, int64_t token_cap, int64_t heads, int64_t dv) {
  constexpr int64_t kMinChunk = 64;
  constexpr int64_t kMaxSplits = 256;
  constexpr int64_t kPartialBudget = int64_t(4) << 20;  // floats (16 MiB)
  const int64_t by_len = std::max<int64_t>(1, ceil_div(slot_rows, kMinChunk));
  const int64_t by_budget = std::max<int64_t>(1, kPartialBudget / std::max<int64_t>(1, token_cap * heads * (dv + 2)));
  return std::min(std::min(by_len, kMaxSplits), by_budget);
}

// Cuts the `slot_rows` rows of one slot (the cache's rows / GpuStep::slots) into chunks of at
// least kMinChunk keys (one tile), at most kMaxSplits of them, as many as fit in a scratch budget
// of kPartialBudget floats for all tokens and heads. The grid is fixed by a slot's capacity, so
// small chunks are what gives a short context many blocks (at position 511 of a 4096-row slot: 8
// busy chunks per head); chunks past the position exit at once. A prefill chunk already has many
// (token, head) blocks and gets few splits (the budget).
inline SplitPlan plan_splits(int64_t slot_rows, int64_t token_cap, int64_t heads, int64_t dv) {
  SplitPlan p;
  p.n_splits = split_bound(slot_rows, token_cap, heads, dv);
  p.chunk = std::max<int64_t>(1, ceil_div(slot_rows, p.n_splits));
  p.n_splits = ceil_div(slot_rows, p.chunk);
  return p;
}

// The rows of one slot of a cache of `cache_rows` rows, host side (kernel_abi.h rows_per_slot); at
// least 1, so that a grid is never empty.
inline int64_t host_slot_rows(int64_t cache_rows, int64_t slots) {
  return std::max<int64_t>(1, rows_per_slot(cache_rows, slots));
}

// Scratch floats of a plan: partial outputs [T, H, n_splits, dv] then (m, l) [T, H, n_splits, 2].
inline int64_t split_scratch_floats(const SplitPlan& p, int64_t token_cap, int64_t heads, int64_t dv) {
  return token_cap * heads * p.n_splits * (dv + 2);
}

// Scratch floats enough for the plan of any number of slots of a cache of `cache_rows` rows (the
// workspace is sized from static shapes only; plan_splits(r).n_splits <= split_bound(r) and the
// bound grows with r).
inline int64_t split_scratch_bound(int64_t cache_rows, int64_t token_cap, int64_t heads, int64_t dv) {
  SplitPlan p;
  p.n_splits = split_bound(cache_rows, token_cap, heads, dv);
  return split_scratch_floats(p, token_cap, heads, dv);
}

// --- MLA attention (mla_attention.cu): q_abs [T, H, C] | o_lat [T, H, C] | split partials, in
// floats, for a latent cache of `cache_rows` rows cut into `slots` slots.
struct MlaScratch {
  SplitPlan plan;
  int64_t q_abs = 0, o_lat = 0, partials = 0, total = 0;
};

inline MlaScratch mla_scratch(int64_t token_cap, int64_t cache_rows, int64_t heads, int64_t latent, int64_t slots) {
  MlaScratch l;
  l.plan = plan_splits(host_slot_rows(cache_rows, slots), token_cap, heads, latent);
  const int64_t lat = token_cap * heads * latent;
  l.q_abs = 0;
  l.o_lat = lat;
  l.partials = 2 * lat;
  l.total = 2 * lat + split_scratch_bound(cache_rows, token_cap, heads, latent);
  return l;
}

// --- Tensor-core GEMM (gemm_tc.cu): x converted to f16 [T, K], then one f32 factor per row.

// Token capacity from which a matmul takes the tensor-core path (prefill chunks): one whole
// 64-row tile. Below it (batched decode steps of --max-batch < 64, small --prefill-chunk) the
// weight-streaming GEMV of matmul.cu runs: a tile computes all 64 rows whatever n_tokens is, and
// a decode step of a --max-batch 16 artifact on the tensor-core path took 13.7 ms for one active
// sequence on an H200 (1.5B int4). DSE_GPU_TC_MIN_TOKENS overrides it (read once; for tuning).
inline constexpr int64_t kTensorCoreMinTokens = 64;
int64_t tensor_core_min_tokens();

// True when the tensor-core path handles this matmul: CUDA (the kernel is PTX mma; HIP keeps the
// GEMV), a token capacity of at least tensor_core_min_tokens(), a 16-bit, 8-bit or 4-bit weight
// format (f32 weights keep the exact f32 GEMV), K a multiple of 32, and for w4 a group that is a
// multiple of 8 and divides K. Static shapes only (it also sizes the workspace); the caller checks
// in addition that W and x are 16-byte aligned.
bool tensor_core_gemm_applies(GpuApi api, cpu::WeightFormat f, int64_t token_capacity, int64_t k, int64_t group);

// Bytes of x in f16 (where the row factors follow) and of both.
inline uint64_t tensor_core_x_bytes(int64_t token_capacity, int64_t k) {
  return align_up(uint64_t(token_capacity) * uint64_t(k) * 2, 256);
}
inline uint64_t tensor_core_scratch_bytes(int64_t token_capacity, int64_t k) {
  return tensor_core_x_bytes(token_capacity, k) + align_up(uint64_t(token_capacity) * 4, 256);
}

// --- MoE (moe_ffn.cu, moe_gemm.cu): a 16-byte id-check flag, then the per-token GEMVs' act, or
// the grouped GEMMs' buffers.
inline constexpr uint64_t kMoeFlagBytes = 16;  // keeps what follows 16-byte aligned

inline uint64_t moe_gemv_scratch_bytes(int64_t token_capacity, int64_t top_k, int64_t inter) {
  return kMoeFlagBytes + uint64_t(token_capacity * top_k * inter) * sizeof(float);
}

struct MoeGemmShape {
  int64_t cap, top_k, experts, hidden, inter;  // token capacity, k, E, H, I
  int64_t gate_up_group, down_group;           // w4 group sizes (0 for other formats)
};

// Where each buffer of the grouped path lives, after the flag.
struct MoeGemmLayout {
  uint64_t offsets, row_entry, entry_row, xh, x_mul, act, act_mul, g, total;
};
MoeGemmLayout moe_gemm_layout(const MoeGemmShape& s);

// The shape of a moe_ffn_f32_<w> call: x [T, H], ids, weights, gate_up (+ scales), down
// (+ scales), out; iparams E, k, I, H.
MoeGemmShape moe_gemm_shape(cpu::WeightFormat f, const KernelCall& call);

// True unless DSE_GPU_MOE_GEMM=0 (read at each call) when the chunk is large enough for the
// tensor-core GEMM and both matrices' K (H, I) suit it.
bool moe_gemm_applies(GpuApi api, cpu::WeightFormat f, const MoeGemmShape& s);

// --- Per kernel (kernel_workspace_bytes dispatches on the name; the registry calls these).

// matmul_f32_<w>: x [T, K], W [N, K] (+ scales), ...: the tensor-core path's f16 x and row factors.
uint64_t matmul_workspace_bytes(GpuApi api, cpu::WeightFormat f, const KernelCall& call);
// attention_f32: q [T, Hq*D], k_cache [S, ...], ...; iparams Hq, Hkv, D, Dv: the split partials.
uint64_t attention_workspace_bytes(const KernelCall& call);
// mla_attention_f32: q [T, ...], latent_cache [S, C], ...; iparams H, dn, dr, C, dv: mla_scratch.
uint64_t mla_attention_workspace_bytes(const KernelCall& call);
// moe_ffn_f32_<w>: x [T, H], ids, weights, gate_up (+ scales), down (+ scales), out; iparams E,
// k, I, H: the larger of the per-token GEMVs' and the grouped GEMMs' scratch.
uint64_t moe_ffn_workspace_bytes(GpuApi api, cpu::WeightFormat f, const KernelCall& call);

}  // namespace dse::gpu
