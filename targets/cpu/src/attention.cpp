// attention_f32: one (token, head) pair per task, online softmax over the cached keys. The caches
// may be F32, F16, or I8/FP8E4M3 with one scale per (position, KV head): the key scale multiplies
// the finished dot product, the value scale the softmax weight of its row.
#include "dse/cpu/attention.h"

#include <cmath>
#include <limits>

#include "cache_rows.h"
#include "dse/cpu/kernel_limits.h"
#include "kernel_support.h"

namespace dse::cpu {
namespace {

template <CacheKind K>
inline float key_dot(const void* cache, int64_t offset, const float* q, int64_t d) {
  float acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= d; i += 4) {
    for (int j = 0; j < 4; ++j) acc[j] += q[i + j] * cache_raw<K>(cache, offset + i + j);
  }
  for (int j = 0; i < d; ++i, ++j) acc[j] += q[i] * cache_raw<K>(cache, offset + i);
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

template <CacheKind KK, CacheKind VK>
void attend(const KernelCall& call, const StepInfo& step, ThreadPool* pool, int64_t rows, const CacheOperand& kc,
            const CacheOperand& vc, const TensorView& out) {
  const TensorView& q = call.operands[0];
  const int64_t hq = call.iparams[0], hkv = call.iparams[1], d = call.iparams[2], dv = call.iparams[3];
  const float scale = call.fparams[0];
  const int64_t group = hq / hkv;
  const float* qs = data_of<const float>(q);
  float* os = data_of<float>(out);
  const void* kd = kc.cache->data;
  const void* vd = vc.cache->data;
  parallel_for(pool, 0, rows * hq, [&](int64_t item) {
    const int64_t t = item / hq, h = item % hq, kvh = h / group;
    const int64_t pos = row_position(step, t);
    const int64_t first = slot_first_row(step, t, kc.cache->shape[0]);
    const float* qv = qs + t * hq * d + h * d;
    float acc[kMaxHeadDim];
    for (int64_t i = 0; i < dv; ++i) acc[i] = 0.0f;
    float m = -std::numeric_limits<float>::infinity();
    float l = 0.0f;
    for (int64_t s = first; s <= first + pos; ++s) {
      float dot = key_dot<KK>(kd, s * hkv * d + kvh * d, qv, d);
      if constexpr (KK == CacheKind::i8 || KK == CacheKind::fp8) dot *= kc.scale(s, kvh);
      const float score = scale * dot;
      const int64_t voff = s * hkv * dv + kvh * dv;
      // The value row is raw * vscale; folding vscale into the row's weight keeps one multiply.
      float vscale = 1.0f;
      if constexpr (VK == CacheKind::i8 || VK == CacheKind::fp8) vscale = vc.scale(s, kvh);
      if (score > m) {
        // New maximum: rescale what was accumulated so far.
        const float corr = std::exp(m - score);
        l = l * corr + 1.0f;
        if constexpr (VK == CacheKind::f32 || VK == CacheKind::f16) {
          for (int64_t i = 0; i < dv; ++i) acc[i] = acc[i] * corr + cache_raw<VK>(vd, voff + i);
        } else {
          for (int64_t i = 0; i < dv; ++i) acc[i] = acc[i] * corr + vscale * cache_raw<VK>(vd, voff + i);
        }
        m = score;
      } else {
        const float p = std::exp(score - m);
        l += p;
        const float pv = p * vscale;
        for (int64_t i = 0; i < dv; ++i) acc[i] += pv * cache_raw<VK>(vd, voff + i);
      }
    }
    float* o = os + t * hq * dv + h * dv;
    const float inv = 1.0f / l;
    for (int64_t i = 0; i < dv; ++i) o[i] = acc[i] * inv;
  });
}

}  // namespace

Status attention_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  uint32_t index = 1;
  const CacheOperand kc = take_cache_operand(call, index);
  const CacheOperand vc = take_cache_operand(call, index);
  const TensorView& out = call.operands[index];
  const int64_t rows = rows_of(call.operands[0], step);
  DSE_RETURN_IF_ERROR(check_positions("attention_f32", step, rows, slot_rows(step, kc.cache->shape[0]), "KV cache"));
  with_cache_kind(kc.cache->dtype, [&](auto k) {
    with_cache_kind(vc.cache->dtype, [&](auto v) { attend<k.value, v.value>(call, step, pool, rows, kc, vc, out); });
  });
  return Status::Ok();
}

}  // namespace dse::cpu
