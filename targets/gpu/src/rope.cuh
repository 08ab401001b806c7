// rope_f32: rotary position embedding from the compiler's cos/sin table (docs/KERNELS.md).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: x F32 [T, n_heads*head_dim] (in place), table F32 [P, rot_dim].
// iparams: n_heads, head_dim, rot_offset, rot_dim, interleaved. Token t uses table row
// row_position(step, t) (read from the device step; the table is shared by every slot); a bad
// slot or a row past P is recorded (GpuOp::rope) and nothing is rotated. One thread per (head,
// pair), blocks over tokens and pairs.
Status launch_rope_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

// Decode fusion (dse/gpu/fusion.h, option "rope"): rope(q), rope(k), kv_store(k), kv_store(v) as
// one launch. Operands: q, table, k, k_cache, v, v_cache; iparams: q_heads, k_heads, head_dim,
// interleaved. Applies to one token, full-width rotation (rot_offset 0, rot_dim = head_dim), F32
// or F16 caches, and a kv_store of the rotated k.
bool rope_store_applies(const KernelCall& rope_q, const KernelCall& rope_k, const KernelCall& store_k,
                        const KernelCall& store_v);
Status launch_rope_store(const KernelCall& call, const GpuStep& step, GpuStream stream);

}  // namespace dse::gpu
