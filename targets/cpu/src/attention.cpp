// attention_f32: one (token, head) pair per task, online softmax over the cached keys.
#include "dse/cpu/attention.h"

#include <cmath>
#include <limits>

#include "dse/cpu/kernel_limits.h"
#include "kernel_support.h"

namespace dse::cpu {
namespace {

template <bool KHalf>
inline float key_dot(const void* cache, int64_t offset, const float* q, int64_t d) {
  float acc[4] = {0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 4 <= d; i += 4) {
    for (int j = 0; j < 4; ++j) {
      float k = KHalf ? load_f16(static_cast<const uint16_t*>(cache)[offset + i + j])
                      : static_cast<const float*>(cache)[offset + i + j];
      acc[j] += q[i + j] * k;
    }
  }
  for (int j = 0; i < d; ++i, ++j) {
    float k = KHalf ? load_f16(static_cast<const uint16_t*>(cache)[offset + i])
                    : static_cast<const float*>(cache)[offset + i];
    acc[j] += q[i] * k;
  }
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

template <bool KHalf, bool VHalf>
void attend(const KernelCall& call, const StepInfo& step, ThreadPool* pool, int64_t rows) {
  const TensorView& q = call.operands[0];
  const TensorView& kc = call.operands[1];
  const TensorView& vc = call.operands[2];
  const TensorView& out = call.operands[3];
  const int64_t hq = call.iparams[0], hkv = call.iparams[1], d = call.iparams[2], dv = call.iparams[3];
  const float scale = call.fparams[0];
  const int64_t group = hq / hkv;
  const float* qs = data_of<const float>(q);
  float* os = data_of<float>(out);
  parallel_for(pool, 0, rows * hq, [&](int64_t item) {
    const int64_t t = item / hq, h = item % hq, kvh = h / group;
    const int64_t pos = step.start_pos + t;
    const float* qv = qs + t * hq * d + h * d;
    float acc[kMaxHeadDim];
    for (int64_t i = 0; i < dv; ++i) acc[i] = 0.0f;
    float m = -std::numeric_limits<float>::infinity();
    float l = 0.0f;
    for (int64_t s = 0; s <= pos; ++s) {
      const float score = scale * key_dot<KHalf>(kc.data, s * hkv * d + kvh * d, qv, d);
      const int64_t voff = s * hkv * dv + kvh * dv;
      if (score > m) {
        // New maximum: rescale what was accumulated so far.
        const float corr = std::exp(m - score);
        l = l * corr + 1.0f;
        for (int64_t i = 0; i < dv; ++i) acc[i] = acc[i] * corr + (VHalf ? load_f16(static_cast<const uint16_t*>(vc.data)[voff + i]) : static_cast<const float*>(vc.data)[voff + i]);
        m = score;
      } else {
        const float p = std::exp(score - m);
        l += p;
        for (int64_t i = 0; i < dv; ++i) acc[i] += p * (VHalf ? load_f16(static_cast<const uint16_t*>(vc.data)[voff + i]) : static_cast<const float*>(vc.data)[voff + i]);
      }
    }
    float* o = os + t * hq * dv + h * dv;
    const float inv = 1.0f / l;
    for (int64_t i = 0; i < dv; ++i) o[i] = acc[i] * inv;
  });
}

}  // namespace

Status attention_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const int64_t rows = rows_of(call.operands[0], step);
  DSE_RETURN_IF_ERROR(check_positions("attention_f32", step, rows, call.operands[1].shape[0], "KV cache"));
  const bool kh = call.operands[1].dtype == DType::f16, vh = call.operands[2].dtype == DType::f16;
  if (kh && vh) attend<true, true>(call, step, pool, rows);
  else if (kh) attend<true, false>(call, step, pool, rows);
  else if (vh) attend<false, true>(call, step, pool, rows);
  else attend<false, false>(call, step, pool, rows);
  return Status::Ok();
}

}  // namespace dse::cpu
