// moe_route_f32: DeepSeekMoE expert selection and weights, as Hugging Face computes them
// (docs/KERNELS.md; the exact rules are in dse/cpu/moe_route.h).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: logits F32 [T, E], [bias F32 [E]], ids I32 [T, k], weights F32 [T, k].
// iparams: top_k, n_group, topk_group, scoring, method, norm_topk_prob, has_bias.
// fparams: routed_scaling_factor. One block per token, one thread per expert: scores in parallel
// (double precision, as the CPU); then every expert (and, for group-limited routing, every group)
// counts the entries that beat it in the CPU's order (larger value, ties to the lower id, NaN
// last), and the one with j ahead of it is the j-th pick: no serial rounds of arg-max (10.7 -> 5.1
// us for V2-Lite's 64 experts, H200). The count is O(E^2), fine for E <= 256. Bounds: E <= 1024.
Status launch_moe_route_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
