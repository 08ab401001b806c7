// kv_store: writes this call's rows into a KV cache at their sequence positions (docs/KERNELS.md).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: src F32 [T, W], cache F32/F16 [S, W]. cache[start_pos + t] = src[t] (rounded to
// nearest even for F16). A position past S returns out_of_range before anything is written.
Status kv_store(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
