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

}  // namespace dse::gpu
