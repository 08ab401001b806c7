// Decode-step fusion on the GPU: a peephole pass over a resolved program that merges
//   matmul_f32_<w> x up to 3, same x          (q, k, v: one launch over all their rows)
//   rms_norm_f32 -> matmul_f32_<w>            (the norm done inside the GEMV)
//   matmul_f32_<w> -> add_f32                 (the residual add done by the GEMV's epilogue)
//   rope q, rope k, kv_store k, kv_store v    (one launch)
// and these together, into one launch. The artifact and docs/KERNELS.md do not change: the
// program's meaning is the same (the fused kernels also write every intermediate the unfused
// calls wrote), only the number of launches per decode step drops, which is what limits small
// models at batch 1. Applied only where it is safe by addresses: the merged calls must read what
// the previous one wrote, and no output may overlap an input of the other call.
#pragma once

#include <deque>
#include <string_view>
#include <vector>

#include "dse/gpu/kernel_registry.h"

namespace dse::gpu {

// A program as the runtime holds it: parallel lists of calls, their launchers and kernel names.
struct GpuCallList {
  std::vector<KernelCall>* calls;
  std::vector<const GpuKernelInfo*>* kernels;
  std::vector<std::string_view>* names;
};

// Operands and parameters of one fused call (launch_fused_matmul_f32's layout, matmul.cuh).
struct FusedCallOperands {
  TensorView views[5 + 4 * 3];
  int64_t iparams[4];
  float fparams[1];
};

// Storage of the fused calls' operands: a deque, so that addresses stay valid as it grows and
// each call's operands are contiguous. Keep it alive as long as the program.
struct FusionStorage {
  std::deque<FusedCallOperands> calls;
};

struct FusionStats {
  int norms_fused = 0;      // rms_norm calls that became a GEMV prologue
  int residuals_fused = 0;  // add_f32 calls that became a GEMV epilogue
  int matmuls_merged = 0;   // matmul calls that joined an earlier one's launch
  int rope_stores_fused = 0;  // rope, rope, kv_store, kv_store sequences made one launch
};

// Which fusions to make. The defaults are the ones that paid on an H200 (docs/PERF.md): merging
// and the residual epilogue took a 1.5B int4 decode from 339 to 377 tok/s and a 7B from 212 to
// 234; rope + kv_store in one launch took the 1.5B from 553 to 585 tok/s. The norm prologue pays
// only in the persistent int4 GEMV, which stages x once per block anyway (1.5B 621 -> 636, 7B
// 325 -> 335 tok/s, 2026-11-28): `norm_int4`, on by default. In the other GEMVs every warp
// re-reads x and the norm weight and drops to 2 rows (1.5B 377 -> 269 tok/s, 7B 234 -> 126), so
// `norm` (every format) is there to be measured, not used.
struct FusionOptions {
  bool norm = false;
  bool merge = true;
  bool residual = true;
  bool rope = true;
  bool norm_int4 = true;
};

// Options from a comma-separated list of "norm", "norm_int4", "merge", "residual", "rope", "none"
// or "all" (the value of DSE_GPU_FUSION, which the runtime reads, so that each fusion can be
// measured on its own); a list turns on only what it names; unknown words are ignored.
FusionOptions parse_fusion_options(std::string_view list);

// Rewrites `program` in place. Calls are fused only when every operand is a decode operand
// (token capacity 1) on the GEMV's 16-byte path; anything else is left as it was.
FusionStats fuse_decode_calls(const GpuCallList& program, FusionStorage& storage, const FusionOptions& options = {});

// The prefill counterpart: only `merge` applies (the other options are ignored). Up to 3
// matmuls in a row that read the same prefill x (capacity > 1) with one weight format, K and
// group, each on the tensor-core path (merged_gemm_applies), become one launch of
// launch_fused_matmul_f32: x converted to f16 once and one GEMM over all their rows. A 1.5B
// layer's q, k and v projections were three GEMMs (k and v of 256 rows each, 16 blocks apiece)
// and three conversions of the same x.
FusionStats fuse_prefill_calls(const GpuCallList& program, FusionStorage& storage, const FusionOptions& options = {});

}  // namespace dse::gpu
