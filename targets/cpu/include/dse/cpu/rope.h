// rope_f32: rotary position embedding from a precomputed cos/sin table (docs/KERNELS.md).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: x F32 [T, n_heads*head_dim] (rotated in place), table F32 [P, rot_dim] with
// table[p, j] = cos, table[p, rot_dim/2 + j] = sin. iparams: n_heads, head_dim, rot_offset,
// rot_dim, interleaved. Token t uses table row start_pos + t; a row past P returns out_of_range
// before anything is written.
Status rope_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
