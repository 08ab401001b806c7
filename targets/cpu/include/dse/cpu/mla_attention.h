// mla_attention_f32: DeepSeek multi-head latent attention in the absorbed form (docs/KERNELS.md,
// docs/reference/ARCHITECTURES.md §2.4).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: q F32 [T, H*(dn+dr)] (per head: dn "nope" values, then dr already-rotated values),
// latent_cache F32/F16 [S, C], pe_cache F32/F16 [S, dr], w_uk F32/F16/BF16 [H, dn, C],
// w_uv F32/F16/BF16 [H, dv, C], out F32 [T, H*dv] (must not overlap q).
// iparams: H, dn, dr, C, dv. fparams: scale.
// Per token t (position p = start_pos + t) and head h:
//   q_abs = W_UK[h]^T q_nope;  s(j) = scale * (<q_abs, c(j)> + <q_pe, k_pe(j)>) for j <= p;
//   o_lat = sum_j softmax(s)(j) c(j);  out = W_UV[h] o_lat.
// Softmax is online (no per-sequence scratch). A position past S returns out_of_range.
// Bounds: dn, dr, dv <= kMaxHeadDim, C <= kMaxLatentRank (kernel_limits.h).
Status mla_attention_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
