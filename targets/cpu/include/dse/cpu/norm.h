// rms_norm_f32: RMSNorm over the last dimension (docs/KERNELS.md).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: x F32 [T, H], weight F32 [H], out F32 [T, H] (may be x itself). fparams: eps.
// out = weight * (x / sqrt(mean(x^2) + eps)), the mean taken in double, in HF's order of products.
Status rms_norm_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
