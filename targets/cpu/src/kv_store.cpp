// kv_store: copy (F32 cache), round to f16 (F16 cache) or quantize per group with one F32 scale
// per (position, group) (I8 / FP8E4M3 caches, dse/targets/kv_quant.h); one row per task.
#include "dse/cpu/kv_store.h"

#include <cstring>

#include "cache_rows.h"
#include "kernel_support.h"

namespace dse::cpu {

Status kv_store(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& src = call.operands[0];
  uint32_t index = 1;
  const CacheOperand c = take_cache_operand(call, index);
  const TensorView& cache = *c.cache;
  const int64_t rows = rows_of(src, step);
  DSE_RETURN_IF_ERROR(check_positions("kv_store", step, rows, slot_rows(step, cache.shape[0]), "KV cache"));
  const int64_t width = src.shape[1];
  const float* s = data_of<const float>(src);
  parallel_for(pool, 0, rows, [&](int64_t t) {
    const int64_t pos = cache_row(step, t, cache.shape[0]);  // its slot's row for its position
    const float* row = s + t * width;
    if (c.scales) {
      const int64_t gw = width / c.groups;
      uint8_t* dst = data_of<uint8_t>(cache) + pos * width;  // both quantized dtypes are one byte
      float* scales = c.scales + pos * c.groups;
      for (int64_t g = 0; g < c.groups; ++g) {
        scales[g] = kv_quantize_group(row + g * gw, gw, cache.dtype, dst + g * gw);
      }
    } else if (cache.dtype == DType::f16) {
      uint16_t* dst = data_of<uint16_t>(cache) + pos * width;
      for (int64_t i = 0; i < width; ++i) dst[i] = f32_to_f16(row[i]);
    } else {
      std::memcpy(data_of<float>(cache) + pos * width, row, size_t(width) * 4);
    }
  });
  return Status::Ok();
}

}  // namespace dse::cpu
