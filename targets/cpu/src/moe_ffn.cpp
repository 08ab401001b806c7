// moe_ffn_f32_<w>: token by token, two parallel phases: the k experts' intermediate vectors
// (split over intermediate rows), then the weighted sum of their down projections (split over
// output columns).
#include "dse/cpu/moe_ffn.h"

#include <string>

#include "dse/cpu/kernel_limits.h"
#include "kernel_support.h"

namespace dse::cpu {

template <WeightFormat F>
Status moe_ffn_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  constexpr bool kScales = has_scale_slot(F);
  const TensorView& x = call.operands[0];
  const TensorView& ids_view = call.operands[1];
  const TensorView& weights_view = call.operands[2];
  const TensorView& gate_up = call.operands[3];
  const TensorView* gate_up_scales = kScales ? &call.operands[4] : nullptr;
  const TensorView& down = call.operands[kScales ? 5 : 4];
  const TensorView* down_scales = kScales ? &call.operands[6] : nullptr;
  const TensorView& out = call.operands[kScales ? 7 : 5];
  const int64_t n_experts = call.iparams[0], top_k = call.iparams[1];
  const int64_t inter = call.iparams[2], hidden = call.iparams[3];
  const int64_t rows = rows_of(x, step);
  const int32_t* ids = data_of<const int32_t>(ids_view);
  const float* route_w = data_of<const float>(weights_view);
  for (int64_t i = 0; i < rows * top_k; ++i) {
    if (ids[i] < 0 || ids[i] >= n_experts) {
      return Status(StatusCode::out_of_range,
                    "moe_ffn_f32_" + std::string(weight_format_name(F)) + ": expert id " +
                        std::to_string(ids[i]) + " (token " + std::to_string(i / top_k) + ", slot " +
                        std::to_string(i % top_k) + ") is outside [0, " + std::to_string(n_experts) +
                        "); the ids operand must come from moe_route_f32 with the same n_experts");
    }
  }
  const float* xs = data_of<const float>(x);
  float* ys = data_of<float>(out);
  float act[kMaxMoeScratch];  // [top_k, I] for the current token
  for (int64_t t = 0; t < rows; ++t) {
    const float* xr = xs + t * hidden;
    const int32_t* tid = ids + t * top_k;
    const float* tw = route_w + t * top_k;
    parallel_for_ranges(pool, 0, top_k * inter, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const int64_t j = i / inter, r = i % inter;
        const WeightRows gu = expert_rows<F>(gate_up, gate_up_scales, tid[j]);
        const float g = dot_row<F>(gu, r, xr);
        const float u = dot_row<F>(gu, inter + r, xr);
        act[i] = silu(g) * u;
      }
    });
    float* yr = ys + t * hidden;
    parallel_for_ranges(pool, 0, hidden, [&](int64_t lo, int64_t hi) {
      for (int64_t n = lo; n < hi; ++n) {
        float sum = 0.0f;
        for (int64_t j = 0; j < top_k; ++j) {
          const WeightRows dw = expert_rows<F>(down, down_scales, tid[j]);
          sum += tw[j] * dot_row<F>(dw, n, act + j * inter);
        }
        yr[n] = sum;
      }
    });
  }
  return Status::Ok();
}

template Status moe_ffn_f32<WeightFormat::f32>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status moe_ffn_f32<WeightFormat::f16>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status moe_ffn_f32<WeightFormat::bf16>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status moe_ffn_f32<WeightFormat::w8>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status moe_ffn_f32<WeightFormat::w4>(const KernelCall&, const StepInfo&, ThreadPool*);
template Status moe_ffn_f32<WeightFormat::fp8>(const KernelCall&, const StepInfo&, ThreadPool*);

}  // namespace dse::cpu
