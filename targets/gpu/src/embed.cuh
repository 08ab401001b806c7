// embed_f32_<w>: token embedding lookup, table in F32, F16 or BF16 (docs/KERNELS.md).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: tokens I32 [T], table [V, H], out F32 [T, H]. out[t] = table[tokens[t]]. Blocks over
// (columns, token rows of the capacity); every block first checks all ids of the call, so an id outside
// [0, V) is recorded (GpuOp::embed) and no row is written, as on the CPU.
Status launch_embed_f32_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);
Status launch_embed_f32_f16(const KernelCall& call, const GpuStep& step, GpuStream stream);
Status launch_embed_f32_bf16(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
