// moe_route_f32: one token per task; scores and masks live in stack arrays bounded by kMaxExperts.
#include "dse/cpu/moe_route.h"

#include <cmath>
#include <limits>

#include "dse/cpu/kernel_limits.h"
#include "kernel_support.h"

namespace dse::cpu {
namespace {

// Index of the largest value among values[0..n) not yet taken; ties go to the lower index.
inline int64_t arg_max_untaken(const float* values, const bool* taken, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (taken[i]) continue;
    if (best < 0 || values[i] > values[best] || (std::isnan(values[best]) && !std::isnan(values[i]))) best = i;
  }
  return best;
}

}  // namespace

Status moe_route_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const int64_t top_k = call.iparams[0], n_group = call.iparams[1], topk_group = call.iparams[2];
  const bool sigmoid = call.iparams[3] == 1;
  const int64_t method = call.iparams[4];
  const bool norm = call.iparams[5] != 0;
  const bool has_bias = call.iparams[6] != 0;
  const float scaling = call.fparams[0];
  const TensorView& logits = call.operands[0];
  const float* bias = has_bias ? data_of<const float>(call.operands[1]) : nullptr;
  int32_t* ids_out = data_of<int32_t>(call.operands[has_bias ? 2 : 1]);
  float* w_out = data_of<float>(call.operands[has_bias ? 3 : 2]);
  const int64_t rows = rows_of(logits, step);
  const int64_t e_count = logits.shape[1];
  const float* ls = data_of<const float>(logits);

  parallel_for(pool, 0, rows, [&](int64_t t) {
    const float* lg = ls + t * e_count;
    float s[kMaxExperts];       // unbiased scores
    float choice[kMaxExperts];  // biased, then masked, scores used for selection
    bool taken[kMaxExperts];
    if (sigmoid) {
      for (int64_t e = 0; e < e_count; ++e) s[e] = float(1.0 / (1.0 + std::exp(-double(lg[e]))));
    } else {
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t e = 0; e < e_count; ++e) mx = lg[e] > mx ? lg[e] : mx;
      double sum = 0.0;
      for (int64_t e = 0; e < e_count; ++e) sum += std::exp(double(lg[e]) - mx);
      for (int64_t e = 0; e < e_count; ++e) s[e] = float(std::exp(double(lg[e]) - mx) / sum);
    }
    for (int64_t e = 0; e < e_count; ++e) {
      choice[e] = bias ? s[e] + bias[e] : s[e];
      taken[e] = false;
    }
    bool group_kept[kMaxExperts];
    for (int64_t g = 0; g < n_group; ++g) group_kept[g] = true;
    if (method != 0) {
      const int64_t per_group = e_count / n_group;
      float group_score[kMaxExperts];
      bool group_taken[kMaxExperts];
      for (int64_t g = 0; g < n_group; ++g) {
        const float* b = choice + g * per_group;
        if (method == 1) {
          float mx = b[0];
          for (int64_t i = 1; i < per_group; ++i) mx = b[i] > mx ? b[i] : mx;
          group_score[g] = mx;
        } else {
          // Sum of the two largest (as topk(2).sum()): the largest, then the largest of the rest.
          int64_t i0 = 0;
          for (int64_t i = 1; i < per_group; ++i) if (b[i] > b[i0]) i0 = i;
          int64_t i1 = i0 == 0 ? 1 : 0;
          for (int64_t i = 0; i < per_group; ++i) if (i != i0 && b[i] > b[i1]) i1 = i;
          group_score[g] = b[i0] + b[i1];
        }
        group_taken[g] = false;
        group_kept[g] = false;
      }
      for (int64_t j = 0; j < topk_group; ++j) {
        int64_t g = arg_max_untaken(group_score, group_taken, n_group);
        group_taken[g] = true;
        group_kept[g] = true;
      }
      const float masked = method == 1 ? 0.0f : -std::numeric_limits<float>::infinity();
      for (int64_t e = 0; e < e_count; ++e) {
        if (!group_kept[e / per_group]) choice[e] = masked;
      }
    }
    const int64_t per_group = method != 0 ? e_count / n_group : e_count;
    int32_t* ids = ids_out + t * top_k;
    float* ws = w_out + t * top_k;
    float total = 0.0f;
    for (int64_t j = 0; j < top_k; ++j) {
      int64_t e = arg_max_untaken(choice, taken, e_count);
      taken[e] = true;
      ids[j] = int32_t(e);
      ws[j] = group_kept[e / per_group] ? s[e] : 0.0f;
      total += ws[j];
    }
    if (norm) {
      const float denom = total + 1e-20f;
      for (int64_t j = 0; j < top_k; ++j) ws[j] /= denom;
    }
    for (int64_t j = 0; j < top_k; ++j) ws[j] *= scaling;
  });
  return Status::Ok();
}

}  // namespace dse::cpu
