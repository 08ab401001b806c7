// The prefill path of matmul_f32_<w>: a tensor-core GEMM (mma.sync m16n8k16, f16 inputs, f32
// accumulation) with the weights dequantized on their way into shared memory.
#pragma once

#include <cstdint>

#include "dse/gpu/gpu_launch.h"
#include "weight_dot.cuh"

namespace dse::gpu {

// Token capacity from which a matmul takes the tensor-core path (prefill chunks): one whole
// 64-row tile. Below it (batched decode steps of --max-batch < 64, small --prefill-chunk) the
// weight-streaming GEMV of matmul.cu runs: a tile computes all 64 rows whatever n_tokens is, and
// a decode step of a --max-batch 16 artifact on the tensor-core path took 13.7 ms for one active
// sequence on an H200 (1.5B int4). DSE_GPU_TC_MIN_TOKENS overrides it (read once; for tuning).
inline constexpr int64_t kTensorCoreMinTokens = 64;
int64_t tensor_core_min_tokens();

// True when the tensor-core path handles this matmul: a CUDA build (the kernel is PTX mma; a HIP
// build keeps the GEMV), a token capacity of at least tensor_core_min_tokens(), a 16-bit, 8-bit or
// 4-bit weight format (f32 weights keep the exact f32 GEMV), K a multiple of 32, and for w4 a
// group that is a multiple of 8. Depends on static shapes only (it also sizes the workspace); the
// caller checks in addition that W and x are 16-byte aligned.
bool gemm_tc_applies(WeightFormat f, int64_t token_capacity, int64_t k, int64_t group);

// Scratch the tensor-core path needs: x converted to f16 ([T, K]) and one f32 factor per row.
uint64_t gemm_tc_workspace_bytes(int64_t token_capacity, int64_t k);

// out[t, n] = sum_k x[t, k] W[n, k] (+ bias[n]) for the first step_rows(T) rows of x. Activations
// are rounded to f16 after an exact per-row power-of-two scaling that keeps every row inside
// f16's range (rows whose largest magnitude is below 2^14 are not scaled), so the result differs
// from the f32 GEMV by the f16 rounding of x and of the dequantized weights, not by overflow.
template <WeightFormat F>
Status launch_gemm_tc(const float* x, int64_t token_capacity, const WeightMatrix& w, int64_t n, const float* bias,
                      float* out, const GpuStep& step, GpuStream stream);

// The two steps of launch_gemm_tc, for callers that arrange x themselves (moe_gemm.cu).
// rows_to_f16: xh [rows, K] and row_mul [rows] from x (rows = step_rows(step, row_cap)); with
// `gather`, row t of xh is row gather[t] / gather_div of x, for t < *gather_rows (read on the
// device; row_cap bounds it).
void launch_rows_to_f16(const float* x, int64_t k, int64_t row_cap, const StepInfo* step, const int32_t* gather,
                        int32_t gather_div, const int32_t* gather_rows, __half* xh, float* row_mul, GpuStream stream);

// The GEMM on x in f16: out[t, :] = (xh[t, :] W^T) * row_mul[t] (+ bias). Without `group_rows`,
// for t < step_rows(step, row_cap). With it (a grouped GEMM, `groups` matrices of n rows back to
// back in w, [groups + 1] row offsets read on the device): rows group_rows[g] .. group_rows[g + 1]
// - 1 of xh and out use matrix g; no group may hold more than row_cap rows. wgmma where
// gemm_wgmma_applies, else mma.sync.
template <WeightFormat F>
Status launch_gemm_tc_f16(const __half* xh, const float* row_mul, int64_t row_cap, const int32_t* group_rows,
                          int64_t groups, const WeightMatrix& w, int64_t n, const float* bias, float* out,
                          const StepInfo* step, GpuStream stream);

}  // namespace dse::gpu
