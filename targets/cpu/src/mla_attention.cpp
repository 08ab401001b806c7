// mla_attention_f32: one (token, head) pair per task; q is absorbed into the latent space, the
// softmax runs online over the latent cache, and W_UV is applied to the attended latent. Caches
// may be F32, F16, or I8/FP8E4M3 with one scale per position (the whole row is one group).
#include "dse/cpu/mla_attention.h"

#include <cmath>
#include <limits>

#include "cache_rows.h"
#include "dse/cpu/kernel_limits.h"
#include "kernel_support.h"

namespace dse::cpu {
namespace {

inline float weight_value(const TensorView& w, int64_t index) {
  switch (w.dtype) {
    case DType::f16: return load_f16(static_cast<const uint16_t*>(w.data)[index]);
    case DType::bf16: return load_bf16(static_cast<const uint16_t*>(w.data)[index]);
    default: return static_cast<const float*>(w.data)[index];
  }
}

template <CacheKind LK, CacheKind PK>
void attend(const KernelCall& call, const StepInfo& step, ThreadPool* pool, int64_t rows, const CacheOperand& lc,
            const CacheOperand& pc, uint32_t next) {
  constexpr bool kLatentScaled = LK == CacheKind::i8 || LK == CacheKind::fp8;
  constexpr bool kPeScaled = PK == CacheKind::i8 || PK == CacheKind::fp8;
  const TensorView& q = call.operands[0];
  const TensorView& w_uk = call.operands[next];
  const TensorView& w_uv = call.operands[next + 1];
  const TensorView& out = call.operands[next + 2];
  const void* latent = lc.cache->data;
  const void* pe = pc.cache->data;
  const int64_t heads = call.iparams[0], dn = call.iparams[1], dr = call.iparams[2];
  const int64_t c = call.iparams[3], dv = call.iparams[4];
  const float scale = call.fparams[0];
  const int64_t dq = dn + dr;
  const float* qs = data_of<const float>(q);
  float* os = data_of<float>(out);
  parallel_for(pool, 0, rows * heads, [&](int64_t item) {
    const int64_t t = item / heads, h = item % heads;
    const int64_t pos = row_position(step, t);
    const int64_t first = slot_first_row(step, t, lc.cache->shape[0]);
    const float* q_nope = qs + t * heads * dq + h * dq;
    const float* q_pe = q_nope + dn;
    // q_abs[c] = sum_d W_UK[h, d, c] q_nope[d], accumulated over d in order.
    float q_abs[kMaxLatentRank];
    for (int64_t i = 0; i < c; ++i) q_abs[i] = 0.0f;
    for (int64_t d = 0; d < dn; ++d) {
      const float qd = q_nope[d];
      const int64_t base = (h * dn + d) * c;
      for (int64_t i = 0; i < c; ++i) q_abs[i] += weight_value(w_uk, base + i) * qd;
    }
    float acc[kMaxLatentRank];
    for (int64_t i = 0; i < c; ++i) acc[i] = 0.0f;
    float m = -std::numeric_limits<float>::infinity();
    float l = 0.0f;
    for (int64_t s = first; s <= first + pos; ++s) {
      float dl[4] = {0, 0, 0, 0};
      int64_t i = 0;
      for (; i + 4 <= c; i += 4) {
        for (int j = 0; j < 4; ++j) dl[j] += q_abs[i + j] * cache_raw<LK>(latent, s * c + i + j);
      }
      for (int j = 0; i < c; ++i, ++j) dl[j] += q_abs[i] * cache_raw<LK>(latent, s * c + i);
      float dp = 0.0f;
      for (int64_t r = 0; r < dr; ++r) dp += q_pe[r] * cache_raw<PK>(pe, s * dr + r);
      // Quantized rows: the row scale multiplies the finished dot product (one group per row).
      float lscale = 1.0f;
      float dot = (dl[0] + dl[1]) + (dl[2] + dl[3]);
      if constexpr (kLatentScaled) {
        lscale = lc.scale(s, 0);
        dot *= lscale;
      }
      if constexpr (kPeScaled) dp *= pc.scale(s, 0);
      const float score = scale * (dot + dp);
      if (score > m) {
        const float corr = std::exp(m - score);
        l = l * corr + 1.0f;
        if constexpr (kLatentScaled) {
          for (int64_t k = 0; k < c; ++k) acc[k] = acc[k] * corr + lscale * cache_raw<LK>(latent, s * c + k);
        } else {
          for (int64_t k = 0; k < c; ++k) acc[k] = acc[k] * corr + cache_raw<LK>(latent, s * c + k);
        }
        m = score;
      } else {
        const float p = std::exp(score - m);
        l += p;
        const float pl = p * lscale;
        for (int64_t k = 0; k < c; ++k) acc[k] += pl * cache_raw<LK>(latent, s * c + k);
      }
    }
    const float inv = 1.0f / l;
    float* o = os + t * heads * dv + h * dv;
    for (int64_t v = 0; v < dv; ++v) {
      const int64_t base = (h * dv + v) * c;
      float sum[4] = {0, 0, 0, 0};
      int64_t k = 0;
      for (; k + 4 <= c; k += 4) {
        for (int j = 0; j < 4; ++j) sum[j] += weight_value(w_uv, base + k + j) * acc[k + j];
      }
      for (int j = 0; k < c; ++k, ++j) sum[j] += weight_value(w_uv, base + k) * acc[k];
      o[v] = ((sum[0] + sum[1]) + (sum[2] + sum[3])) * inv;
    }
  });
}

}  // namespace

Status mla_attention_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  uint32_t index = 1;
  const CacheOperand lc = take_cache_operand(call, index);
  const CacheOperand pc = take_cache_operand(call, index);
  const int64_t rows = rows_of(call.operands[0], step);
  DSE_RETURN_IF_ERROR(check_positions("mla_attention_f32", step, rows, slot_rows(step, lc.cache->shape[0]), "latent cache"));
  with_cache_kind(lc.cache->dtype, [&](auto l) {
    with_cache_kind(pc.cache->dtype, [&](auto p) { attend<l.value, p.value>(call, step, pool, rows, lc, pc, index); });
  });
  return Status::Ok();
}

}  // namespace dse::cpu
