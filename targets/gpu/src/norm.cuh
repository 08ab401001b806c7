// rms_norm_f32: RMSNorm over the last dimension (docs/KERNELS.md).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: x F32 [T, H], weight F32 [H], out F32 [T, H] (may be x). fparams: eps.
// out = w * (x / sqrt(mean(x^2) + eps)); the mean is accumulated in double as on the CPU. One
// block per row; the row is fully read (reduction) before any of it is written, so in place is safe.
Status launch_rms_norm_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
