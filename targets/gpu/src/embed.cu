// embed_f32_<w>: blocks over (columns, tokens); ids are validated by every block before any row is written.
#include "embed.cuh"

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 256;

template <typename S>
__global__ void __launch_bounds__(kThreads) embed_kernel(const int32_t* ids, const typename S::type* table, float* out,
                                                         int64_t vocab, int64_t hidden, int64_t cap,
                                                         const StepInfo* step, GpuErrorRecord* err) {
  grid_dependency_sync();
  const int64_t rows = step_rows(step, cap);
  const int64_t t = blockIdx.y;
  if (t >= rows) return;
  __shared__ int bad;
  if (threadIdx.x == 0) bad = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < rows; i += kThreads) {
    const int32_t id = ids[i];
    if (id < 0 || id >= vocab) {
      atomicExch(&bad, 1);
      if (t == 0 && blockIdx.x == 0) record_error(err, StatusCode::out_of_range, GpuOp::embed, id, vocab, i);
    }
  }
  __syncthreads();
  if (bad) return;
  const int64_t id = ids[t];
  const typename S::type* src = table + id * hidden;
  float* dst = out + t * hidden;
  const int64_t h = int64_t(blockIdx.x) * kThreads + threadIdx.x;  // one element per thread
  if (h < hidden) dst[h] = S::load(src, h);
}

template <typename S>
Status launch(const char* name, const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& tokens = call.operands[0];
  const TensorView& table = call.operands[1];
  const TensorView& out = call.operands[2];
  if (tokens.shape[0] <= 0) return Status::Ok();
  if (table.shape[1] <= 0) return Status::Ok();
  const dim3 grid(unsigned(ceil_div(table.shape[1], kThreads)), unsigned(tokens.shape[0]));
  launch_kernel(embed_kernel<S>, grid, kThreads, 0, stream, static_cast<const int32_t*>(tokens.data),
                static_cast<const typename S::type*>(table.data), static_cast<float*>(out.data), table.shape[0],
                table.shape[1], tokens.shape[0], step.d_step, step.d_error);
  return launch_status(name);
}

}  // namespace

Status launch_embed_f32_f32(const KernelCall& c, const GpuStep& s, GpuStream st) { return launch<F32Storage>("embed_f32_f32", c, s, st); }
Status launch_embed_f32_f16(const KernelCall& c, const GpuStep& s, GpuStream st) { return launch<F16Storage>("embed_f32_f16", c, s, st); }
Status launch_embed_f32_bf16(const KernelCall& c, const GpuStep& s, GpuStream st) { return launch<BF16Storage>("embed_f32_bf16", c, s, st); }

}  // namespace dse::gpu
