// moe_ffn_f32_<w>: the routed experts of a DeepSeekMoE layer, every weight format (docs/KERNELS.md).
#pragma once

#include "dse/cpu/weight_format.h"
#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: x F32 [T, H], ids I32 [T, k], weights F32 [T, k], gate_up W [E, 2I, H] (+ scales),
// down W [E, H, I] (+ scales), out F32 [T, H]. iparams: n_experts, top_k, I, H.
// Only the selected experts are read; their ids are read on the device. Three launches:
//   1. check: every id in [0, E)? Writes a flag into the workspace and, if not, records
//      GpuOp::moe_ffn; the next two kernels do nothing when the flag is set (out stays unwritten).
//   2. gate_up: act[t, j, r] = silu(gate_e[r] . x_t) * (up_e[r] . x_t), e = ids[t, j]; one
//      logical warp per R rows of one expert (weight-streaming GEMV, weight_dot.cuh; int4 on the
//      16-byte path in packed f16 with x_t staged per block, gemv_w4_half.cuh).
//   3. down: out[t, n] = sum_j weights[t, j] * (down_e[n] . act[t, j]): summed in j order by the
//      f32 kernels; int4 on the 16-byte path takes one warp per row n over all k experts' vectors
//      as one list (their loads in flight together), summed per lane in list order, then across
//      the warp (a fixed order, not the CPU's).
// Prefill chunks (unless DSE_GPU_MOE_GEMM=0) take grouped GEMMs instead of steps 2-3 (moe_gemm.cuh).
// Workspace: the flag (16 bytes) + act [T, k, I] f32, or the grouped GEMMs' buffers if larger.
template <cpu::WeightFormat F>
Status launch_moe_ffn_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);
template <cpu::WeightFormat F>
uint64_t moe_ffn_f32_workspace(const KernelCall& call);

}  // namespace dse::gpu
