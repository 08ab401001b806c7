// The GPU kernels' scratch sizes and layouts as host arithmetic (dse/gpu/workspace.h,
// scratch_layout.h): built into dse_gpu_workspace, which needs no GPU toolchain, so that the
// runtime of any build and dsc compute what the kernels use.
#include "dse/gpu/workspace.h"

#include <cstdlib>
#include <cstring>
#include <optional>

#include "scratch_layout.h"

namespace dse::gpu {
namespace {

using cpu::WeightFormat;

}  // namespace

bool env_is(const char* name, const char* value) {
  const char* v = std::getenv(name);
  return v != nullptr && std::strcmp(v, value) == 0;
}

uint64_t matmul_workspace_bytes(GpuApi api, WeightFormat f, const KernelCall& call) {
  if (call.n_operands < 2) return 0;
  const TensorView &x = call.operands[0], &w = call.operands[1];
  if (!tensor_core_gemm_applies(api, f, x.shape[0], w.shape[1], w.group_size)) return 0;
  return tensor_core_scratch_bytes(x.shape[0], w.shape[1]);
}

uint64_t attention_workspace_bytes(const KernelCall& call) {
  if (call.n_operands < 2 || call.n_iparams < 4) return 0;
  const int64_t t_cap = call.operands[0].shape[0], s = call.operands[1].shape[0];
  return uint64_t(split_scratch_bound(s, t_cap, call.iparams[0], call.iparams[3])) * sizeof(float);
}

uint64_t mla_attention_workspace_bytes(const KernelCall& call) {
  if (call.n_operands < 2 || call.n_iparams < 5) return 0;
  const int64_t t_cap = call.operands[0].shape[0], s = call.operands[1].shape[0];
  return uint64_t(mla_scratch(t_cap, s, call.iparams[0], call.iparams[3], 1).total) * sizeof(float);
}

MoeGemmShape moe_gemm_shape(WeightFormat f, const KernelCall& call) {
  const uint32_t down = cpu::has_scale_slot(f) ? 5 : 4;
  return MoeGemmShape{call.operands[0].shape[0], call.iparams[1], call.iparams[0], call.iparams[3], call.iparams[2],
                      call.operands[3].group_size, call.operands[down].group_size};
}

uint64_t moe_ffn_workspace_bytes(GpuApi api, WeightFormat f, const KernelCall& call) {
  if (call.n_operands <= (cpu::has_scale_slot(f) ? 5u : 4u) || call.n_iparams < 4) return 0;
  const MoeGemmShape s = moe_gemm_shape(f, call);
  const uint64_t gemv = moe_gemv_scratch_bytes(s.cap, s.top_k, s.inter);
  return std::max(gemv, moe_gemm_applies(api, f, s) ? kMoeFlagBytes + moe_gemm_layout(s).total : uint64_t(0));
}

int64_t tensor_core_min_tokens() {
  static const int64_t min_tokens = [] {
    const char* v = std::getenv("DSE_GPU_TC_MIN_TOKENS");
    const long long n = v ? std::atoll(v) : 0;
    return n > 0 ? int64_t(n) : kTensorCoreMinTokens;
  }();
  return min_tokens;
}

bool tensor_core_gemm_applies(GpuApi api, WeightFormat f, int64_t token_capacity, int64_t k, int64_t group) {
  if (api != GpuApi::cuda) return false;
  if (token_capacity < tensor_core_min_tokens() || k <= 0 || k % 32 != 0) return false;
  if (f == WeightFormat::f32) return false;
  return f != WeightFormat::w4 || (group > 0 && group % 8 == 0 && k % group == 0);
}

MoeGemmLayout moe_gemm_layout(const MoeGemmShape& s) {
  const uint64_t rows = uint64_t(s.cap * s.top_k);
  MoeGemmLayout l;
  uint64_t at = 0;
  auto take = [&](uint64_t bytes) {
    const uint64_t here = at;
    at = align_up(at + bytes, 256);
    return here;
  };
  l.offsets = take(uint64_t(s.experts + 1) * 4);
  l.row_entry = take(rows * 4);
  l.entry_row = take(rows * 4);
  l.xh = take(rows * uint64_t(s.hidden) * 2);
  l.x_mul = take(rows * 4);
  l.act = take(rows * uint64_t(s.inter) * 2);
  l.act_mul = take(rows * 4);
  l.g = take(rows * uint64_t(std::max(2 * s.inter, s.hidden)) * 4);  // gate_up's output, then down's
  l.total = at;
  return l;
}

bool moe_gemm_applies(GpuApi api, WeightFormat f, const MoeGemmShape& s) {
  // tensor_core_gemm_applies checks the API and the token capacity.
  return !env_is("DSE_GPU_MOE_GEMM", "0") && s.hidden % 4 == 0 &&
         tensor_core_gemm_applies(api, f, s.cap, s.hidden, s.gate_up_group) &&
         tensor_core_gemm_applies(api, f, s.cap, s.inter, s.down_group);
}

uint64_t kernel_workspace_bytes(std::string_view kernel, const KernelCall& call, GpuApi api) {
  if (const std::optional<WeightFormat> f = cpu::weight_format_after(kernel, "matmul_f32_"))
    return matmul_workspace_bytes(api, *f, call);
  if (const std::optional<WeightFormat> f = cpu::weight_format_after(kernel, "moe_ffn_f32_"))
    return moe_ffn_workspace_bytes(api, *f, call);
  if (kernel == "attention_f32") return attention_workspace_bytes(call);
  if (kernel == "mla_attention_f32") return mla_attention_workspace_bytes(call);
  return 0;
}

}  // namespace dse::gpu
