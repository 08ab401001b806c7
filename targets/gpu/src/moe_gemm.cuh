// The routed experts of a prefill chunk as grouped GEMMs (DSE_GPU_MOE_GEMM=0 turns them off). The
// per-token GEMVs of moe_ffn.cu read each selected expert's weights once per token: a 512-token
// chunk of DeepSeek-V2-Lite reads about 13 GB of expert weights per layer. Here the (token,
// slot) entries are sorted by expert and each expert's weights are read once per 64 or 128 of
// its entries, on the tensor cores (gemm_tc.cuh):
//   1. sort: per expert, its entries (in an order that varies between runs; no result depends
//      on it) -> row offsets [E + 1], the entry of each row, the row of each entry;
//   2. x's rows gathered in that order, converted to f16 (rows_to_f16);
//   3. grouped GEMM with gate_up: g = [T k, 2I] f32;
//   4. act = silu(gate) * up, converted to f16 with a power-of-two factor per row;
//   5. grouped GEMM with down: y = [T k, H] f32 (in g's place);
//   6. out[t] = sum over slots j, in j order, of weights[t, j] * y[row of (t, j)].
// Measured on an H200 (session 7, V2-Lite int4, 512-token prompt): prefill 1,731 -> 4,773 tok/s
// against the per-token GEMVs.
#pragma once

#include <cstdint>

#include "dse/gpu/gpu_launch.h"
#include "gemm_tc.cuh"
#include "scratch_layout.h"
#include "weight_dot.cuh"

namespace dse::gpu {

// MoeGemmShape, moe_gemm_layout (the workspace) and moe_gemm_applies: scratch_layout.h.

// moe_gemm_applies in this build.
template <WeightFormat F>
bool moe_gemm_applies(const MoeGemmShape& s) {
  return moe_gemm_applies(kBuildApi, F, s);
}

// Steps 1-6 above. `bad` is moe_ffn's id-check flag (nothing is written when it is set; the sort
// sets it, and records GpuOp::moe_ffn, if an expert holds more than `cap` entries, which distinct
// ids per token rule out). `workspace` holds moe_gemm_layout(s).total bytes.
template <WeightFormat F>
Status launch_moe_gemm(const MoeGemmShape& s, const float* x, const int32_t* ids, const float* route_w,
                       const WeightMatrix& gate_up, const WeightMatrix& down, float* out, int32_t* bad, void* workspace,
                       const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
