// kv_store: writes this call's rows into a KV cache at their sequence positions (docs/KERNELS.md).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: src F32 [T, W], cache F32/F16 [S, W]. cache[start_pos + t] = src[t] (F16: round to
// nearest even). A position past S is recorded (GpuOp::kv_store) and nothing is written.
Status launch_kv_store(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
