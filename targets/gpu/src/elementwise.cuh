// add_f32, silu_mul_f32, last_row_f32: row-wise element operations (docs/KERNELS.md).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: a F32 [T, W], b F32 [T, W], out F32 [T, W] (may be a or b). out = a + b.
Status launch_add_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

// Operands: gate_up F32 [T, 2I], out F32 [T, I]. out = silu(gate_up[:, :I]) * gate_up[:, I:].
Status launch_silu_mul_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

// Operands: x F32 [T, W], out F32 [1, W]. Copies row rows - 1; with no rows it records
// GpuOp::last_row (out_of_range) and writes nothing.
Status launch_last_row_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
