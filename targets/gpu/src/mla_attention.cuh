// mla_attention_f32: DeepSeek multi-head latent attention, absorbed form (docs/KERNELS.md,
// docs/reference/ARCHITECTURES.md §2.4).
#pragma once

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: q F32 [T, H*(dn+dr)], latent_cache F32/F16 [S, C], pe_cache F32/F16 [S, dr],
// w_uk F32/F16/BF16 [H, dn, C], w_uv F32/F16/BF16 [H, dv, C], out F32 [T, H*dv].
// iparams: H, dn, dr, C, dv. fparams: scale.
// Four launches: q_abs = W_UK^T q_nope (into the workspace); flash-decoding over the latent and
// rope caches with q_abs and q_pe (split_softmax.cuh; the latent is both key and value, shared by
// all heads); combine into o_lat (workspace); out = W_UV o_lat. Row t attends its own slot of both
// caches (S / slots rows each, kernel_abi.h); a bad slot or a position past a slot's rows is
// recorded (GpuOp::mla_attention) and out is not written. Bounds: C <= 2048, dn, dr, dv <= 512.
Status launch_mla_attention_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);
uint64_t mla_attention_f32_workspace(const KernelCall& call);

}  // namespace dse::gpu
