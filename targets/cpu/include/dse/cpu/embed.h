// embed_f32_<w>: token embedding lookup (docs/KERNELS.md).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: tokens I32 [T], table F32/F16/BF16 [V, H], out F32 [T, H].
// out[t] = table[tokens[t]]; a token id outside [0, V) returns out_of_range (and leaves the rows
// before it written).
Status embed_f32_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);
Status embed_f32_f16(const KernelCall& call, const StepInfo& step, ThreadPool* pool);
Status embed_f32_bf16(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
