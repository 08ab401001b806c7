// moe_ffn_f32_<w>: the routed experts of a DeepSeekMoE layer, for every weight format.
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/cpu/weight_format.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: x F32 [T, H], ids I32 [T, k], weights F32 [T, k], gate_up W [E, 2I, H] in format F
// (+ scales [E, 2I] or, for w4, [E, 2I, H/g]), down W [E, H, I] (+ scales [E, H] or [E, H, I/g]),
// out F32 [T, H] (must not overlap x). iparams: n_experts, top_k, I, H.
// out[t] = sum_j weights[t, j] * down_e(silu(gate_e x) * up_e x), e = ids[t, j], summed in j
// order; gate rows come first in gate_up. Only the selected experts are read. An id outside
// [0, E) returns out_of_range before anything is written.
// Per token the k intermediate vectors live on the calling thread's stack:
// top_k * I <= kMaxMoeScratch (kernel_limits.h).
template <WeightFormat F>
Status moe_ffn_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

extern template Status moe_ffn_f32<WeightFormat::f32>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status moe_ffn_f32<WeightFormat::f16>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status moe_ffn_f32<WeightFormat::bf16>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status moe_ffn_f32<WeightFormat::w8>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status moe_ffn_f32<WeightFormat::w4>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status moe_ffn_f32<WeightFormat::fp8>(const KernelCall&, const StepInfo&, ThreadPool*);

}  // namespace dse::cpu
