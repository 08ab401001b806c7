// moe_route_f32: DeepSeekMoE expert selection and weights, as Hugging Face computes them
// (docs/KERNELS.md; the exact rules are in dse/cpu/moe_route.h).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: logits F32 [T, E], [bias F32 [E]], ids I32 [T, k], weights F32 [T, k].
// iparams: top_k, n_group, topk_group, scoring, method, norm_topk_prob, has_bias.
// fparams: routed_scaling_factor. One block per token: scores in parallel (double precision, as
// the CPU), group scores by one thread per group, then top_k rounds of a block-wide arg-max with
// the CPU's tie rule (larger value, then lower expert id; NaN loses). Bounds: E <= 1024.
Status launch_moe_route_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
