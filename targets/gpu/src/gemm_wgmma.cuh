// The sm_90a prefill GEMM: the tensor-core GEMM of gemm_tc.cuh issued as wgmma (Hopper's
// warpgroup MMA, both operands read by the tensor cores from shared memory) instead of mma.sync.
// Same inputs (x already in f16 with its per-row factor), same weight conversion on the way into
// shared memory (gemm_tile.cuh), same epilogue; gemm_tc.cu picks it where it applies.
#pragma once

#include <cstdint>

#include "dse/gpu/gpu_launch.h"
#include "gemm_tc.cuh"
#include "vendor.h"
#include "weight_dot.cuh"

namespace dse::gpu {

// True when this library holds the wgmma kernel (built with sm_90a among its CUDA architectures),
// the current device has compute capability 9.x, K is a multiple of 64 and DSE_GPU_WGMMA is not 0
// (read once; for A/B runs against the mma.sync kernel).
bool gemm_wgmma_applies(int64_t k);

// launch_gemm_tc_f16 (gemm_tc.cuh) on wgmma: same arguments and results.
template <WeightFormat F>
Status launch_gemm_wgmma(const __half* xh, const float* row_mul, int64_t row_cap, const int32_t* group_rows,
                         int64_t groups, const GemmParts& parts, int k_splits, const StepInfo* step,
                         GpuStream stream);

}  // namespace dse::gpu
