// add_f32, silu_mul_f32, last_row_f32: row-wise element operations (docs/KERNELS.md).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: a F32 [T, W], b F32 [T, W], out F32 [T, W] (may be a or b). out = a + b.
Status add_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

// Operands: gate_up F32 [T, 2I], out F32 [T, I] (must not overlap gate_up).
// out = silu(gate_up[:, :I]) * gate_up[:, I:], silu(x) = x / (1 + exp(-x)).
Status silu_mul_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

// Operands: x F32 [T, W], out F32 [1, W]. Copies row rows - 1 (the call's last token); a call
// with no tokens returns out_of_range.
Status last_row_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
