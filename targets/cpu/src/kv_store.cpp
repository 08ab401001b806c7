// kv_store: copy (F32 cache) or round to f16 (F16 cache), one row per task.
#include "dse/cpu/kv_store.h"

#include <cstring>

#include "kernel_support.h"

namespace dse::cpu {

Status kv_store(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& src = call.operands[0];
  const TensorView& cache = call.operands[1];
  const int64_t rows = rows_of(src, step);
  DSE_RETURN_IF_ERROR(check_positions("kv_store", step, rows, cache.shape[0], "KV cache"));
  const int64_t width = src.shape[1];
  const float* s = data_of<const float>(src);
  parallel_for(pool, 0, rows, [&](int64_t t) {
    const int64_t pos = step.start_pos + t;
    if (cache.dtype == DType::f16) {
      uint16_t* dst = data_of<uint16_t>(cache) + pos * width;
      for (int64_t i = 0; i < width; ++i) dst[i] = f32_to_f16(s[t * width + i]);
    } else {
      std::memcpy(data_of<float>(cache) + pos * width, s + t * width, size_t(width) * 4);
    }
  });
  return Status::Ok();
}

}  // namespace dse::cpu
