// The GPU kernels' scratch sizes as host arithmetic (dse/gpu/workspace.h): the numbers the GPU
// runtime allocates and dsc plans, worked out here by hand from docs/KERNELS.md shapes.
#include "dse/gpu/workspace.h"

#include <catch2/catch_test_macros.hpp>
#include <cstdlib>
#include <vector>

namespace dse::gpu {
namespace {

TensorView view(DType dtype, std::vector<int64_t> shape, int32_t group = 0) {
  TensorView v;
  v.dtype = dtype;
  v.rank = int32_t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) v.shape[i] = shape[i];
  v.group_size = group;
  return v;
}

}  // namespace

TEST_CASE("matmul scratch: f16 x and row factors on the CUDA tensor-core path only", "[gpu_workspace]") {
  // x [64, 128], W int4 [256, 128] group 8 (+ scales), out [64, 256].
  const TensorView ops[] = {view(DType::f32, {64, 128}), view(DType::i4, {256, 128}, 8),
                            view(DType::f16, {256, 16}), view(DType::f32, {64, 256})};
  const int64_t ip[] = {0};
  const KernelCall call = make_kernel_call(ops, 4, ip, 1, nullptr, 0);
  // 64 x 128 halves = 16384 bytes, then 64 floats rounded up to 256 bytes.
  CHECK(kernel_workspace_bytes("matmul_f32_w4", call, GpuApi::cuda) == 16384 + 256);
  CHECK(kernel_workspace_bytes("matmul_f32_w4", call, GpuApi::hip) == 0);    // no tensor-core path
  CHECK(kernel_workspace_bytes("matmul_f32_f32", call, GpuApi::cuda) == 0);  // f32 weights: the GEMV
  // A decode row (capacity 1) takes the GEMV: no scratch.
  const TensorView decode[] = {view(DType::f32, {1, 128}), ops[1], ops[2], view(DType::f32, {1, 256})};
  CHECK(kernel_workspace_bytes("matmul_f32_w4", make_kernel_call(decode, 4, ip, 1, nullptr, 0), GpuApi::cuda) == 0);
  CHECK(kernel_workspace_bytes("rms_norm_f32", call, GpuApi::cuda) == 0);
  CHECK(kernel_workspace_bytes("no_such_kernel", call, GpuApi::cuda) == 0);
}

TEST_CASE("attention scratch: the split partials and (m, l) of every token and head", "[gpu_workspace]") {
  // q [1, 8 x 64], caches [4096, 2 x 64], out [1, 8 x 64]; Hq 8, Hkv 2, D 64, Dv 64: 4096 rows
  // in chunks of 64 = 64 splits; 1 x 8 x 64 x (64 + 2) floats.
  const TensorView ops[] = {view(DType::f32, {1, 512}), view(DType::f16, {4096, 128}), view(DType::f16, {4096, 128}),
                            view(DType::f32, {1, 512})};
  const int64_t ip[] = {8, 2, 64, 64};
  const float fp[] = {0.125f};
  const KernelCall call = make_kernel_call(ops, 4, ip, 4, fp, 1);
  CHECK(kernel_workspace_bytes("attention_f32", call, GpuApi::cuda) == uint64_t(8 * 64 * 66 * 4));
  CHECK(kernel_workspace_bytes("attention_f32", call, GpuApi::hip) == uint64_t(8 * 64 * 66 * 4));
  // 100000 rows: at most 256 splits.
  TensorView big[4] = {ops[0], view(DType::f16, {100000, 128}), view(DType::f16, {100000, 128}), ops[3]};
  CHECK(kernel_workspace_bytes("attention_f32", make_kernel_call(big, 4, ip, 4, fp, 1), GpuApi::cuda) ==
        uint64_t(8 * 256 * 66 * 4));
}

TEST_CASE("MoE scratch: the per-token GEMVs' act, or the grouped GEMMs' buffers", "[gpu_workspace]") {
  // x [64, 256], ids [64, 2], weights [64, 2], gate_up int4 [8, 256, 256] g 32 (+ scales), down
  // int4 [8, 256, 128] g 32 (+ scales), out [64, 256]; E 8, k 2, I 128, H 256.
  const TensorView ops[] = {view(DType::f32, {64, 256}),         view(DType::i32, {64, 2}),
                            view(DType::f32, {64, 2}),           view(DType::i4, {8, 256, 256}, 32),
                            view(DType::f16, {8, 256, 8}),       view(DType::i4, {8, 256, 128}, 32),
                            view(DType::f16, {8, 256, 4}),       view(DType::f32, {64, 256})};
  const int64_t ip[] = {8, 2, 128, 256};
  const KernelCall call = make_kernel_call(ops, 8, ip, 4, nullptr, 0);
  const uint64_t gemv = 16 + 64 * 2 * 128 * 4;  // the flag, then act [T, k, I]
  // Grouped: offsets (9 ints), row_entry and entry_row (128 ints each), x in f16 [128, 256], its
  // row factors, act in f16 [128, 128], its factors, g [128, max(2I, H) = 256] f32; each rounded
  // up to 256 bytes; after the 16-byte flag.
  const uint64_t grouped = 16 + 256 + 512 + 512 + 65536 + 512 + 32768 + 512 + 131072;
  CHECK(kernel_workspace_bytes("moe_ffn_f32_w4", call, GpuApi::cuda) == grouped);
  CHECK(kernel_workspace_bytes("moe_ffn_f32_w4", call, GpuApi::hip) == gemv);
  setenv("DSE_GPU_MOE_GEMM", "0", 1);
  CHECK(kernel_workspace_bytes("moe_ffn_f32_w4", call, GpuApi::cuda) == gemv);
  unsetenv("DSE_GPU_MOE_GEMM");
}

}  // namespace dse::gpu
