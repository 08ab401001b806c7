// kv_store: writes this call's rows into a KV cache at their sequence positions (docs/KERNELS.md).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: src F32 [T, W], cache F32/F16/I8/FP8E4M3 [S, W] (+ F32 [S, groups] scales when
// quantized). cache[cache_row(step, t, S)] = src[t] (F16: round to nearest even): row t's slot
// owns S / slots rows (kernel_abi.h). A bad slot or a position past a slot's rows is recorded
// (GpuOp::kv_store) and nothing is written.
Status launch_kv_store(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
