// kv_store: one thread per element, blocks over (columns, token rows of the capacity).
#include "kv_store.cuh"

#include "common.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 256;

template <bool kHalf>
__global__ void __launch_bounds__(kThreads) kv_store_kernel(const float* src, void* cache, int64_t width,
                                                            int64_t cache_rows, int64_t cap, const StepInfo* step,
                                                            GpuErrorRecord* err) {
  const int64_t rows = step_rows(step, cap);
  const int64_t t = blockIdx.y;
  if (t >= rows) return;
  if (!positions_fit(step, rows, cache_rows)) {
    if (t == 0 && blockIdx.x == 0 && threadIdx.x == 0)
      record_error(err, StatusCode::out_of_range, GpuOp::kv_store, bad_position(step, rows), cache_rows, 0);
    return;
  }
  const int64_t pos = step->start_pos + t;
  const float* s = src + t * width;
  // One element per thread: one memory round trip (a loop per thread would serialise them).
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= width) return;
  if constexpr (kHalf) static_cast<uint16_t*>(cache)[pos * width + i] = f32_to_f16_bits(s[i]);
  else static_cast<float*>(cache)[pos * width + i] = s[i];
}

}  // namespace

Status launch_kv_store(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& src = call.operands[0];
  const TensorView& cache = call.operands[1];
  if (src.shape[0] <= 0) return Status::Ok();
  const float* s = static_cast<const float*>(src.data);
  if (src.shape[1] <= 0) return Status::Ok();
  const dim3 grid(unsigned(ceil_div(src.shape[1], kThreads)), unsigned(src.shape[0]));
  if (cache.dtype == DType::f16)
    kv_store_kernel<true><<<grid, kThreads, 0, stream>>>(s, cache.data, src.shape[1], cache.shape[0], src.shape[0],
                                                         step.d_step, step.d_error);
  else
    kv_store_kernel<false><<<grid, kThreads, 0, stream>>>(s, cache.data, src.shape[1], cache.shape[0], src.shape[0],
                                                          step.d_step, step.d_error);
  return launch_status("kv_store");
}

}  // namespace dse::gpu
