// attention_f32: causal grouped-query attention over a KV cache (docs/KERNELS.md).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: q F32 [T, Hq*D], k_cache F32/F16 [S, Hkv*D], v_cache F32/F16 [S, Hkv*Dv],
// out F32 [T, Hq*Dv]. iparams: n_q_heads, n_kv_heads, head_dim, v_head_dim. fparams: scale.
// Flash-decoding: the cache is cut into chunks (split_softmax.cuh), one block per (chunk, head,
// token) runs an online softmax over its chunk, a second kernel merges the chunks. Row t attends
// positions 0 .. row_position(step, t) of its own slot (S / slots rows each, kernel_abi.h); a bad
// slot or a position past a slot's rows is recorded (GpuOp::attention) and out is not written.
// Bounds: D, Dv <= 512.
Status launch_attention_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);
uint64_t attention_f32_workspace(const KernelCall& call);

}  // namespace dse::gpu
