// attention_f32: causal grouped-query attention over a KV cache (docs/KERNELS.md).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: q F32 [T, Hq*D], k_cache F32/F16 [S, Hkv*D], v_cache F32/F16 [S, Hkv*Dv],
// out F32 [T, Hq*Dv] (must not overlap q). iparams: n_q_heads, n_kv_heads, head_dim, v_head_dim.
// fparams: scale. The query of token t (position p = start_pos + t) attends to cache rows 0..p;
// head h reads kv head h / (Hq / Hkv). Softmax is computed online (streaming) in f32, so no
// per-sequence scratch is needed. A position past S returns out_of_range.
// Bounds: D, Dv <= kMaxHeadDim (kernel_limits.h).
Status attention_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
