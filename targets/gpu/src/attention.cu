// attention_f32: split kernel + combine kernel over the KV cache (flash-decoding).
#include "attention.cuh"

#include <string>

#include "attention_decode.cuh"
#include "attention_prefill.cuh"
#include "attention_prefill_tc.cuh"
#include "common.cuh"
#include "kv_cache.cuh"
#include "launch.cuh"
#include "split_softmax.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 128;
constexpr int kDimsPerThread = 4;  // Dv <= 512
constexpr int kMaxDim = kThreads * kDimsPerThread;

struct Shape {
  int64_t t_cap, s, hq, hkv, d, dv;
};

// Operands: q, k_cache (+ scales when quantized), v_cache (+ scales), out.
Shape shape_of(const KernelCall& call) {
  return {call.operands[0].shape[0], call.operands[1].shape[0], call.iparams[0], call.iparams[1], call.iparams[2],
          call.iparams[3]};
}

// The one-pass prefill kernel applies (the default; measured on an H200, 1.5B int4, 512-token
// prefill: 16.4k -> 18.0k tok/s): a program of one-sequence steps with prefill-sized chunks,
// DSE_GPU_FLASH_PREFILL not "0" (read at every launch, so tests can switch it), head dims it holds,
// f32 or f16 caches of one dtype, a 16-byte aligned output.
bool prefill_kernel_applies(const Shape& sh, const GpuStep& step, DType k, DType v, const void* out) {
  if (env_is("DSE_GPU_FLASH_PREFILL", "0")) return false;
  return step.one_sequence && sh.t_cap >= kPrefillRows && sh.d <= kPrefillMaxDim && sh.dv <= kPrefillMaxDim &&
         sh.d % 4 == 0 && sh.dv % 4 == 0 && k == v && (k == DType::f32 || k == DType::f16) &&
         reinterpret_cast<uintptr_t>(out) % 16 == 0;
}

#if !defined(DSE_GPU_HIP)
// The tensor-core kernel (attention_prefill_tc.cuh) takes f16 caches with d == dv of 64 or 128
// (so every cache row, Hkv x d halves, is a whole number of 16-byte copies) at 16-byte aligned
// addresses, unless DSE_GPU_TC_PREFILL=0.
bool prefill_tc_applies(const Shape& sh, DType k, const void* k_data, const void* v_data) {
  if (env_is("DSE_GPU_TC_PREFILL", "0")) return false;
  const bool aligned = ((reinterpret_cast<uintptr_t>(k_data) | reinterpret_cast<uintptr_t>(v_data)) % 16) == 0;
  return k == DType::f16 && sh.d == sh.dv && (sh.d == 64 || sh.d == 128) && aligned;
}

template <int D>
Status launch_prefill_tc(const PrefillAttentionArgs& p, int64_t t_cap, int64_t heads, GpuStream stream) {
  auto kernel = prefill_attention_tc_kernel<D, D>;
  constexpr size_t smem = prefill_tc_smem_bytes<D, D>();
  if (!allow_dynamic_smem(kernel, smem))
    return launch_status("attention_f32 (prefill, tensor cores): shared memory limit");
  const dim3 grid(unsigned(ceil_div(t_cap, kTcPrefillRows)), unsigned(heads));
  launch_kernel(kernel, grid, kTcPrefillThreads, smem, stream, p);
  return launch_status("attention_f32 (prefill, tensor cores)");
}
#endif

}  // namespace

uint64_t attention_f32_workspace(const KernelCall& call) { return attention_workspace_bytes(call); }

Status launch_attention_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const Shape sh = shape_of(call);
  if (sh.d > kMaxDim || sh.dv > kMaxDim) {
    return Status(StatusCode::unsupported, "attention_f32 (GPU): head_dim " + std::to_string(sh.d) +
                                               " / v_head_dim " + std::to_string(sh.dv) + " exceed the GPU kernel's " +
                                               std::to_string(kMaxDim) + "; use the CPU backend for this model");
  }
  if (sh.t_cap <= 0 || sh.hq <= 0) return Status::Ok();
  uint32_t index = 1;
  const GpuCacheOperand kc = take_cache_operand(call, index);
  const GpuCacheOperand vc = take_cache_operand(call, index);
  const TensorView& out = call.operands[index];
  if (prefill_kernel_applies(sh, step, kc.cache->dtype, vc.cache->dtype, out.data)) {
    PrefillAttentionArgs p;
    p.q = static_cast<const float*>(call.operands[0].data);
    p.q_tok = sh.hq * sh.d;
    p.k = kc.cache->data;
    p.v = vc.cache->data;
    p.k_row = sh.hkv * sh.d;
    p.v_row = sh.hkv * sh.dv;
    p.out = static_cast<float*>(out.data);
    p.out_tok = sh.hq * sh.dv;
    p.d = int(sh.d);
    p.dv = int(sh.dv);
    p.heads_per_kv = int(sh.hq / sh.hkv);
    p.scale = call.fparams[0];
    p.slot_rows = host_slot_rows(sh.s, step.slots);
    p.token_cap = sh.t_cap;
    p.step = step.d_step;
    p.err = step.d_error;
#if !defined(DSE_GPU_HIP)
    if (prefill_tc_applies(sh, kc.cache->dtype, p.k, p.v))
      return sh.d == 64 ? launch_prefill_tc<64>(p, sh.t_cap, sh.hq, stream)
                        : launch_prefill_tc<128>(p, sh.t_cap, sh.hq, stream);
#endif
    const dim3 grid(unsigned(ceil_div(sh.t_cap, kPrefillRows)), unsigned(sh.hq));
    const size_t smem = prefill_attention_smem_bytes(p.d, p.dv);
    if (kc.cache->dtype == DType::f16)
      launch_kernel(prefill_attention_kernel<F16Storage>, grid, kPrefillThreads, smem, stream, p);
    else
      launch_kernel(prefill_attention_kernel<F32Storage>, grid, kPrefillThreads, smem, stream, p);
    return launch_status("attention_f32 (prefill)");
  }
  const SplitPlan plan = plan_splits(host_slot_rows(sh.s, step.slots), sh.t_cap, sh.hq, sh.dv);
  const uint64_t need = attention_f32_workspace(call);
  if (step.workspace_bytes < need || (need > 0 && step.workspace == nullptr)) {
    return Status(StatusCode::invalid_argument, "attention_f32 (GPU): needs " + std::to_string(need) +
                                                    " bytes of workspace, got " + std::to_string(step.workspace_bytes) +
                                                    "; size it with the registry's workspace_bytes");
  }
  float* part_out = static_cast<float*>(step.workspace);
  SplitArgs a{};
  a.q1 = static_cast<const float*>(call.operands[0].data);
  a.q1_tok = sh.hq * sh.d;
  a.q1_head = sh.d;
  a.d1 = int(sh.d);
  a.q2 = nullptr;
  a.d2 = 0;
  a.k1 = kc.cache->data;
  a.k1_row = sh.hkv * sh.d;
  a.k1_scales = kc.scales;
  a.k1_scale_row = kc.groups;
  a.k1_head = sh.d;
  a.k2 = nullptr;
  a.k2_row = 0;
  a.v = vc.cache->data;
  a.v_row = sh.hkv * sh.dv;
  a.v_scales = vc.scales;
  a.v_scale_row = vc.groups;
  a.v_head = sh.dv;
  a.dv = int(sh.dv);
  a.heads = int(sh.hq);
  a.heads_per_kv = int(sh.hq / sh.hkv);
  a.scale = call.fparams[0];
  a.cache_rows = sh.s;
  a.slot_rows = host_slot_rows(sh.s, step.slots);
  a.plan = plan;
  a.token_cap = sh.t_cap;
  a.part_out = part_out;
  a.part_ml = part_out + sh.t_cap * sh.hq * plan.n_splits * sh.dv;
  a.step = step.d_step;
  a.err = step.d_error;
  a.op = GpuOp::attention;
  if (decode_split_chosen(a, kc.cache->dtype == DType::f16 && vc.cache->dtype == DType::f16)) {
    launch_decode_split_kernel(a, stream);
  } else {
    with_cache_storage(kc.cache->dtype, [&](auto k) {
      with_cache_storage(vc.cache->dtype, [&](auto v) {
        launch_split_kernel<decltype(k), F32Storage, decltype(v), kThreads, kDimsPerThread>(a, stream);
      });
    });
  }
  DSE_RETURN_IF_ERROR(launch_status("attention_f32 (split)"));
  launch_kernel(combine_kernel<>, dim3(unsigned(sh.hq), unsigned(sh.t_cap)), 128, combine_smem_bytes(plan.n_splits),
                stream, a.part_out, a.part_ml, plan, a.heads, a.dv, static_cast<float*>(out.data), sh.hq * sh.dv, sh.dv,
                sh.s, sh.t_cap, step.d_step);
  return launch_status("attention_f32 (combine)");
}

}  // namespace dse::gpu
