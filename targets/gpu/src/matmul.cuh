// matmul_f32_<w>: out[T, N] = x[T, K] W[N, K]^T (+ bias), every weight format (docs/KERNELS.md).
#pragma once

#include "dse/cpu/weight_format.h"
#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

// Operands: x F32 [T, K], W [N, K] (+ scales), [bias F32 [N]], out F32 [T, N]. iparams: has_bias.
// A weight-streaming GEMV: one logical warp computes R output columns for up to TB tokens per
// pass over the weights (TB = 1 when the token capacity is 1, i.e. decode; 4 otherwise). The
// grid covers N and is independent of n_tokens, so the launch can live in a graph.
// Prefill chunks (a token capacity of at least 16) take the tensor-core GEMM of gemm_tc.cuh where
// it applies; its scratch is matmul_f32_workspace.
template <cpu::WeightFormat F>
Status launch_matmul_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

template <cpu::WeightFormat F>
uint64_t matmul_f32_workspace(const KernelCall& call);

// Decode fusions made by fuse_decode_calls (dse/gpu/fusion.h), not by dsc: one GEMV launch over
// up to 3 weight matrices that read the same x (q, k and v), which may also do the rms_norm before
// it and, for one matrix, the residual add after it. Operands (absent ones with null data):
// 0 x F32 [1, K] (the norm's input when fused), 1 norm weight F32 [K], 2 norm output F32 [1, K]
// (written too: other calls may read it), 3 residual in F32 [1, N], 4 residual out F32 [1, N]
// (= residual in + out; may be the same buffer as 3), then per matrix j: 5+4j W, 6+4j W's scales,
// 7+4j bias F32 [N_j], 8+4j out F32 [1, N_j]. iparams: has_norm, has_residual, matrices (1-3).
// fparams: the norm's eps. Results equal the unfused calls' up to the order of the sums.
// The same call with x of a prefill chunk ([T, K], T > 1; no norm, no residual; made by
// fuse_prefill_calls) is one tensor-core GEMM over the matrices: x converted to f16 once.
template <cpu::WeightFormat F>
Status launch_fused_matmul_f32(const KernelCall& call, const GpuStep& step, GpuStream stream);

// True when a matmul with activations x and weights w can be fused: decode (capacity 1) on the
// 16-byte path.
bool fused_matmul_applies(cpu::WeightFormat f, const TensorView& x, const TensorView& w);

// True when matmuls with activations x and weights w can be merged into one tensor-core GEMM: a
// prefill chunk (capacity > 1) that the tensor-core path takes, W and x 16-byte aligned.
bool merged_gemm_applies(cpu::WeightFormat f, const TensorView& x, const TensorView& w);

}  // namespace dse::gpu
