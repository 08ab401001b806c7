// kv_store: one thread per element, blocks over (columns, token rows of the capacity); quantized
// caches one block per (group, token row).
#include "kv_store.cuh"

#include "common.cuh"
#include "kv_cache.cuh"
#include "launch.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 256;

template <bool kHalf>
__global__ void __launch_bounds__(kThreads) kv_store_kernel(const float* src, void* cache, int64_t width,
                                                            int64_t cache_rows, int64_t cap, const StepInfo* step,
                                                            GpuErrorRecord* err) {
  grid_dependency_sync();
  const int64_t rows = step_rows(step, cap);
  const int64_t t = blockIdx.y;
  if (t >= rows) return;
  if (!positions_ok(step, rows, slot_rows(*step, cache_rows), err, GpuOp::kv_store)) return;
  const int64_t pos = cache_row(*step, t, cache_rows);  // its slot's row for its position
  const float* s = src + t * width;
  // One element per thread: one memory round trip (a loop per thread would serialise them).
  const int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i >= width) return;
  if constexpr (kHalf) static_cast<uint16_t*>(cache)[pos * width + i] = f32_to_f16_bits(s[i]);
  else static_cast<float*>(cache)[pos * width + i] = s[i];
}

// Quantized caches: one block per (group, token row); the block finds max |v| of the group, thread
// 0 writes the scale, and every thread quantizes its elements (dse/targets/kv_quant.h).
constexpr int kQuantThreads = 128;

template <bool kFp8>
__global__ void __launch_bounds__(kQuantThreads) kv_store_quant_kernel(const float* src, uint8_t* cache, float* scales,
                                                                       int64_t width, int64_t groups, int64_t cache_rows,
                                                                       int64_t cap, const StepInfo* step,
                                                                       GpuErrorRecord* err) {
  grid_dependency_sync();
  const int64_t rows = step_rows(step, cap);
  const int64_t t = blockIdx.y;
  if (t >= rows) return;
  if (!positions_ok(step, rows, slot_rows(*step, cache_rows), err, GpuOp::kv_store)) return;
  __shared__ float scratch[kQuantThreads / kLanes];
  const int64_t pos = cache_row(*step, t, cache_rows);  // the scale table has the cache's rows
  const int64_t g = blockIdx.x, gw = width / groups;
  const float* v = src + t * width + g * gw;
  float amax = 0.0f;
  for (int64_t i = threadIdx.x; i < gw; i += kQuantThreads) amax = fmaxf(amax, fabsf(v[i]));
  amax = block_max(amax, scratch);
  const float qmax = kFp8 ? 448.0f : 127.0f;
  const float inv = amax > 0.0f ? qmax / amax : 0.0f;
  if (threadIdx.x == 0) scales[pos * groups + g] = amax / qmax;
  uint8_t* dst = cache + pos * width + g * gw;
  for (int64_t i = threadIdx.x; i < gw; i += kQuantThreads) {
    if constexpr (kFp8) dst[i] = f32_to_fp8e4m3_bits(v[i] * inv);
    else dst[i] = uint8_t(kv_quantize_i8_dev(v[i], inv));
  }
}

}  // namespace

Status launch_kv_store(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& src = call.operands[0];
  uint32_t index = 1;
  const GpuCacheOperand c = take_cache_operand(call, index);
  const TensorView& cache = *c.cache;
  if (src.shape[0] <= 0) return Status::Ok();
  const float* s = static_cast<const float*>(src.data);
  if (src.shape[1] <= 0) return Status::Ok();
  if (c.scales) {
    const dim3 grid(unsigned(c.groups), unsigned(src.shape[0]));
    uint8_t* q = static_cast<uint8_t*>(cache.data);
    if (cache.dtype == DType::fp8e4m3)
      launch_kernel(kv_store_quant_kernel<true>, grid, kQuantThreads, 0, stream, s, q, c.scales, src.shape[1], c.groups,
                    cache.shape[0], src.shape[0], step.d_step, step.d_error);
    else
      launch_kernel(kv_store_quant_kernel<false>, grid, kQuantThreads, 0, stream, s, q, c.scales, src.shape[1],
                    c.groups, cache.shape[0], src.shape[0], step.d_step, step.d_error);
    return launch_status("kv_store");
  }
  const dim3 grid(unsigned(ceil_div(src.shape[1], kThreads)), unsigned(src.shape[0]));
  if (cache.dtype == DType::f16)
    launch_kernel(kv_store_kernel<true>, grid, kThreads, 0, stream, s, cache.data, src.shape[1], cache.shape[0],
                  src.shape[0], step.d_step, step.d_error);
  else
    launch_kernel(kv_store_kernel<false>, grid, kThreads, 0, stream, s, cache.data, src.shape[1], cache.shape[0],
                  src.shape[0], step.d_step, step.d_error);
  return launch_status("kv_store");
}

}  // namespace dse::gpu
