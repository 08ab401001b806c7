// The prefill path of matmul_f32_<w>: a tensor-core GEMM (mma.sync m16n8k16, f16 inputs, f32
// accumulation) with the weights dequantized on their way into shared memory.
#pragma once

#include <cstdint>

#include "dse/gpu/gpu_launch.h"
#include "scratch_layout.h"
#include "weight_dot.cuh"

namespace dse::gpu {

// The GPU API of this build (the workspace arithmetic of scratch_layout.h takes it).
#if defined(DSE_GPU_HIP)
inline constexpr GpuApi kBuildApi = GpuApi::hip;
#else
inline constexpr GpuApi kBuildApi = GpuApi::cuda;
#endif

// True when the tensor-core path handles this matmul in this build (tensor_core_gemm_applies,
// scratch_layout.h: CUDA, capacity >= 64 tokens, K % 32 == 0, not f32, a w4 group that suits).
inline bool gemm_tc_applies(WeightFormat f, int64_t token_capacity, int64_t k, int64_t group) {
  return tensor_core_gemm_applies(kBuildApi, f, token_capacity, k, group);
}

// One weight matrix of a GEMM over x and where its product goes: out [T, n] = x w^T (+ bias).
struct GemmPart {
  WeightMatrix w;
  int64_t n = 0;
  const float* bias = nullptr;
  float* out = nullptr;
};

// Up to three matrices that read the same x (the q, k and v projections): one conversion of x
// and one launch whose blocks cover every part's rows. All parts have x's K (w.k) and one group.
inline constexpr int kMaxGemmParts = 3;
struct GemmParts {
  GemmPart part[kMaxGemmParts];
  int count = 1;
};

// A GemmParts of one matrix.
inline GemmParts single_part(const WeightMatrix& w, int64_t n, const float* bias, float* out) {
  GemmParts p;
  p.part[0] = GemmPart{w, n, bias, out};
  return p;
}

// For each part p: out_p[t, n] = sum_k x[t, k] W_p[n, k] (+ bias_p[n]) for the first
// step_rows(T) rows of x. Activations are rounded to f16 after an exact per-row power-of-two
// scaling that keeps every row inside f16's range (rows whose largest magnitude is below 2^14 are
// not scaled), so the result differs from the f32 GEMV by the f16 rounding of x and of the
// dequantized weights, not by overflow. Where the blocks would not fill the multiprocessors
// (gemm_k_splits), K is cut in two halves whose products are added into the output.
template <WeightFormat F>
Status launch_gemm_tc(const float* x, int64_t token_capacity, const GemmParts& parts, const GpuStep& step,
                      GpuStream stream);

// Slices of K for the GEMM of `parts` over row_cap token rows: 2 where its blocks would not give
// every multiprocessor one (the 1.5B's q/k/v, o and down projections at 512 tokens: 96-128
// blocks on an H200's 132) and K has at least 16 steps of 64, else 1. Two only: the halves are
// added onto a zeroed output by atomics, and a + b rounds the same in either order, so results
// do not vary from run to run. DSE_GPU_GEMM_SPLITK=0 keeps one (read once; for measuring).
int gemm_k_splits(const GemmParts& parts, int64_t row_cap);

// The two steps of launch_gemm_tc, for callers that arrange x themselves (moe_gemm.cu).
// rows_to_f16: xh [rows, K] and row_mul [rows] from x (rows = step_rows(step, row_cap)); with
// `gather`, row t of xh is row gather[t] / gather_div of x, for t < *gather_rows (read on the
// device; row_cap bounds it). With `zero` (never with gather), row t of every part's out is set
// to 0 as well (the K-split GEMM adds into it).
void launch_rows_to_f16(const float* x, int64_t k, int64_t row_cap, const StepInfo* step, const int32_t* gather,
                        int32_t gather_div, const int32_t* gather_rows, __half* xh, float* row_mul,
                        const GemmParts* zero, GpuStream stream);

// The GEMM on x in f16: out_p[t, :] = (xh[t, :] W_p^T) * row_mul[t] (+ bias_p) for every part p.
// Without `group_rows`: for t < step_rows(step, row_cap), K in k_splits slices (1 or 2; with 2
// every out must hold zeros, and the slices add into it). With it (a grouped GEMM: `groups`
// matrices of n rows back to back in the one part's w, [groups + 1] row offsets read on the
// device; one part, k_splits 1): rows group_rows[g] .. group_rows[g + 1] - 1 of xh and out use
// matrix g; no group may hold more than row_cap rows. wgmma where gemm_wgmma_applies, else
// mma.sync.
template <WeightFormat F>
Status launch_gemm_tc_f16(const __half* xh, const float* row_mul, int64_t row_cap, const int32_t* group_rows,
                          int64_t groups, const GemmParts& parts, int k_splits, const StepInfo* step,
                          GpuStream stream);

}  // namespace dse::gpu
