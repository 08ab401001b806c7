// matmul_f32_<w>: y = x W^T (+ bias) for every weight format of docs/KERNELS.md.
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/cpu/weight_format.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: x F32 [T, K], W [N, K] in format F, scales (w8/fp8: F32 [N]; w4: F16 [N, K/g]),
// bias F32 [N] when iparams[0] (has_bias) is 1, out F32 [T, N] (must not overlap x).
// Work is split over output columns n; each out[t, n] is one dot product in a fixed order.
template <WeightFormat F>
Status matmul_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

extern template Status matmul_f32<WeightFormat::f32>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status matmul_f32<WeightFormat::f16>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status matmul_f32<WeightFormat::bf16>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status matmul_f32<WeightFormat::w8>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status matmul_f32<WeightFormat::w4>(const KernelCall&, const StepInfo&, ThreadPool*);
extern template Status matmul_f32<WeightFormat::fp8>(const KernelCall&, const StepInfo&, ThreadPool*);

}  // namespace dse::cpu
