// The decode fusion pass (dse/gpu/fusion.h).
#include "dse/gpu/fusion.h"

#include <cstdint>
#include <optional>

#include "dse/cpu/weight_format.h"
#include "matmul.cuh"
#include "rope.cuh"

namespace dse::gpu {
namespace {

using cpu::WeightFormat;

std::optional<WeightFormat> matmul_format(std::string_view name) {
  return cpu::weight_format_after(name, "matmul_f32_");
}

template <WeightFormat F>
constexpr GpuKernelInfo fused_info() {
  return {"fused_matmul_f32", launch_fused_matmul_f32<F>, [](const KernelCall&) -> uint64_t { return 0; }};
}

constexpr GpuKernelInfo kFused[] = {fused_info<WeightFormat::f32>(), fused_info<WeightFormat::f16>(),
                                    fused_info<WeightFormat::bf16>(), fused_info<WeightFormat::w8>(),
                                    fused_info<WeightFormat::w4>(), fused_info<WeightFormat::fp8>()};

const GpuKernelInfo* fused_kernel(WeightFormat f) { return &kFused[static_cast<int>(f)]; }

constexpr GpuKernelInfo kRopeStore{"fused_rope_store", launch_rope_store,
                                   [](const KernelCall&) -> uint64_t { return 0; }};

// Byte ranges of two operands overlap (null data never overlaps).
bool overlap(const TensorView& a, const TensorView& b) {
  if (a.data == nullptr || b.data == nullptr) return false;
  const auto a0 = reinterpret_cast<uintptr_t>(a.data), b0 = reinterpret_cast<uintptr_t>(b.data);
  return a0 < b0 + b.bytes && b0 < a0 + a.bytes;
}

bool same(const TensorView& a, const TensorView& b) {
  return a.data == b.data && a.bytes == b.bytes && a.shape[0] == b.shape[0] && a.shape[1] == b.shape[1];
}

}  // namespace

FusionOptions parse_fusion_options(std::string_view list) {
  FusionOptions o{false, false, false, false, false};
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view word = list.substr(0, comma);
    if (word == "norm") o.norm = true;
    else if (word == "norm_int4") o.norm_int4 = true;
    else if (word == "merge") o.merge = true;
    else if (word == "residual") o.residual = true;
    else if (word == "rope") o.rope = true;
    else if (word == "all") o = FusionOptions{true, true, true, true, true};
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return o;
}

namespace {

// The pass's state: the program it reads and the one it writes. Each fuse_* method looks at the
// calls starting at i, appends one fused call and returns how many calls it replaced, or returns 0
// (and appends nothing) when they do not fuse.
struct Fuser {
  const std::vector<KernelCall>& calls;
  const std::vector<const GpuKernelInfo*>& kernels;
  const std::vector<std::string_view>& names;
  const FusionOptions& options;
  FusionStorage& storage;
  bool prefill;  // merge matmuls into tensor-core GEMMs only (fuse_prefill_calls)
  std::vector<KernelCall> out_calls;
  std::vector<const GpuKernelInfo*> out_kernels;
  std::vector<std::string_view> out_names;
  FusionStats stats;

  void emit(const KernelCall& call, const GpuKernelInfo* kernel, std::string_view name) {
    out_calls.push_back(call);
    out_kernels.push_back(kernel);
    out_names.push_back(name);
  }

  // rope q, rope k, kv_store k, kv_store v -> one launch.
  size_t fuse_rope_store(size_t i) {
    if (!options.rope || i + 3 >= calls.size() || names[i] != "rope_f32" || names[i + 1] != "rope_f32" ||
        names[i + 2] != "kv_store" || names[i + 3] != "kv_store" ||
        !rope_store_applies(calls[i], calls[i + 1], calls[i + 2], calls[i + 3]))
      return 0;
    const KernelCall &rq = calls[i], &rk = calls[i + 1], &sk = calls[i + 2], &sv = calls[i + 3];
    // The stores must not overlap what the launch reads (q, k, v, the table) or each other.
    const TensorView reads[] = {rq.operands[0], rk.operands[0], sv.operands[0], rq.operands[1]};
    bool clash = overlap(sk.operands[1], sv.operands[1]);
    for (const TensorView& r : reads) clash = clash || overlap(sk.operands[1], r) || overlap(sv.operands[1], r);
    clash = clash || overlap(rq.operands[0], rk.operands[0]) || overlap(rq.operands[0], sv.operands[0]) ||
            overlap(rk.operands[0], sv.operands[0]);
    if (clash) return 0;
    FusedCallOperands& st = storage.calls.emplace_back();
    st.views[0] = rq.operands[0];
    st.views[1] = rq.operands[1];
    st.views[2] = rk.operands[0];
    st.views[3] = sk.operands[1];
    st.views[4] = sv.operands[0];
    st.views[5] = sv.operands[1];
    st.iparams[0] = rq.iparams[0];
    st.iparams[1] = rk.iparams[0];
    st.iparams[2] = rq.iparams[1];
    st.iparams[3] = rq.iparams[4];
    emit(make_kernel_call(st.views, 6, st.iparams, 4, nullptr, 0), &kRopeStore, "rope_f32+rope_f32+kv_store+kv_store");
    ++stats.rope_stores_fused;
    return 4;
  }

  // [rms_norm ->] matmul [-> up to 2 more matmuls of the same x] [-> residual add] -> one launch.
  size_t fuse_matmuls(size_t i) {
    // A matmul at i (plain) or at i + 1 after the rms_norm that produces its input.
    size_t m = i;
    bool norm = false;
    const std::optional<WeightFormat> next = i + 1 < calls.size() ? matmul_format(names[i + 1]) : std::nullopt;
    if ((options.norm || (options.norm_int4 && next == WeightFormat::w4)) && names[i] == "rms_norm_f32" && next) {
      const KernelCall& nc = calls[i];
      const KernelCall& mc = calls[i + 1];
      const TensorView& out = mc.operands[mc.n_operands - 1];
      norm = same(mc.operands[0], nc.operands[2]) && !overlap(nc.operands[0], nc.operands[2]) &&
             !overlap(out, nc.operands[0]) && !overlap(out, nc.operands[1]) && !overlap(out, nc.operands[2]) &&
             nc.operands[0].shape[1] == nc.operands[2].shape[1];
      if (norm) m = i + 1;
    }
    const std::optional<WeightFormat> f = matmul_format(names[m]);
    // Decode calls fuse on the GEMV's 16-byte path, prefill calls into one tensor-core GEMM.
    auto applies = [&](const KernelCall& c) {
      return prefill ? merged_gemm_applies(*f, c.operands[0], c.operands[1])
                     : fused_matmul_applies(*f, c.operands[0], c.operands[1]);
    };
    if (!f || !applies(calls[m])) return 0;
    const KernelCall& mc = calls[m];
    const TensorView& x = norm ? calls[i].operands[0] : mc.operands[0];
    // Reads of the fused launch that no write of it may overlap.
    std::vector<TensorView> inputs{x};
    if (norm) inputs.insert(inputs.end(), {calls[i].operands[1], calls[i].operands[2]});
    auto add_inputs = [&](const KernelCall& c) {
      for (uint32_t j = 1; j + 1 < c.n_operands; ++j) inputs.push_back(c.operands[j]);  // W, scales, bias
    };
    add_inputs(mc);
    std::vector<TensorView> outputs{mc.operands[mc.n_operands - 1]};
    auto hits_inputs = [&](const TensorView& v) {
      for (const TensorView& in : inputs)
        if (overlap(v, in)) return true;
      return false;
    };
    auto hits = [&](const TensorView& v) {
      for (const TensorView& o : outputs)
        if (overlap(v, o)) return true;
      return hits_inputs(v);
    };
    if (hits_inputs(outputs[0])) return 0;  // an output over an input: leave the calls alone
    // Matmuls right after it with the same x, format, K and group: one launch over their rows.
    std::vector<size_t> parts{m};
    while (options.merge && parts.size() < 3 && parts.back() + 1 < calls.size()) {
      const size_t j = parts.back() + 1;
      if (names[j] != names[m]) break;
      const KernelCall& c = calls[j];
      const TensorView& o = c.operands[c.n_operands - 1];
      if (!same(c.operands[0], mc.operands[0]) || c.operands[1].shape[1] != mc.operands[1].shape[1] ||
          c.operands[1].group_size != mc.operands[1].group_size || !applies(c))
        break;
      const size_t n_inputs = inputs.size();
      add_inputs(c);
      bool clash = hits(o);
      for (size_t k = n_inputs; k < inputs.size() && !clash; ++k)
        for (const TensorView& prev : outputs) clash = clash || overlap(prev, inputs[k]);
      if (clash) {
        inputs.resize(n_inputs);
        break;
      }
      outputs.push_back(o);
      parts.push_back(j);
    }
    // The residual add right after a single matmul: add(a, b -> o) with the matmul's output as a
    // or b; the other operand r is the residual, o = r + out (o may be r itself, or disjoint).
    const TensorView& out = outputs[0];
    bool residual = false;
    TensorView res_in{}, res_out{};
    const size_t last = parts.back();
    if (options.residual && parts.size() == 1 && last + 1 < calls.size() && names[last + 1] == "add_f32") {
      const KernelCall& ac = calls[last + 1];
      const TensorView &a = ac.operands[0], &b = ac.operands[1], &o = ac.operands[2];
      const TensorView* r = same(a, out) ? &b : (same(b, out) ? &a : nullptr);
      if (r != nullptr && o.shape[0] == 1 && o.shape[1] == out.shape[1] && r->shape[1] == out.shape[1] &&
          (same(*r, o) || !overlap(*r, o)) && !hits(o)) {
        residual = true;
        res_in = *r;
        res_out = o;
      }
    }
    if (!norm && !residual && parts.size() == 1) return 0;
    // launch_fused_matmul_f32's operands (matmul.cuh).
    FusedCallOperands& st = storage.calls.emplace_back();
    st.views[0] = x;
    st.views[1] = norm ? calls[i].operands[1] : TensorView{};
    st.views[2] = norm ? calls[i].operands[2] : TensorView{};
    st.views[3] = res_in;
    st.views[4] = res_out;
    for (size_t p = 0; p < parts.size(); ++p) {
      const KernelCall& c = calls[parts[p]];
      const bool has_bias = c.iparams[0] != 0;
      TensorView* q = st.views + 5 + 4 * p;
      q[0] = c.operands[1];
      q[1] = cpu::has_scale_slot(*f) ? c.operands[2] : TensorView{};
      q[2] = has_bias ? c.operands[c.n_operands - 2] : TensorView{};
      q[3] = c.operands[c.n_operands - 1];
    }
    st.iparams[0] = norm ? 1 : 0;
    st.iparams[1] = residual ? 1 : 0;
    st.iparams[2] = int64_t(parts.size());
    st.fparams[0] = norm ? calls[i].fparams[0] : 0.0f;
    emit(make_kernel_call(st.views, 5 + 4 * parts.size(), st.iparams, 3, st.fparams, 1), fused_kernel(*f),
         norm ? (residual ? "rms_norm_f32+matmul+add_f32" : "rms_norm_f32+matmul")
              : (residual ? "matmul+add_f32" : "matmul"));
    stats.norms_fused += norm ? 1 : 0;
    stats.residuals_fused += residual ? 1 : 0;
    stats.matmuls_merged += int(parts.size()) - 1;
    return last + (residual ? 2 : 1) - i;
  }
};

FusionStats fuse_calls(const GpuCallList& program, FusionStorage& storage, const FusionOptions& options, bool prefill) {
  Fuser fuser{*program.calls, *program.kernels, *program.names, options, storage, prefill, {}, {}, {}, {}};
  for (size_t i = 0; i < program.calls->size();) {
    size_t used = fuser.fuse_rope_store(i);
    if (used == 0) used = fuser.fuse_matmuls(i);
    if (used == 0) {
      fuser.emit((*program.calls)[i], (*program.kernels)[i], (*program.names)[i]);
      used = 1;
    }
    i += used;
  }
  *program.calls = std::move(fuser.out_calls);
  *program.kernels = std::move(fuser.out_kernels);
  *program.names = std::move(fuser.out_names);
  return fuser.stats;
}

}  // namespace

FusionStats fuse_decode_calls(const GpuCallList& program, FusionStorage& storage, const FusionOptions& options) {
  return fuse_calls(program, storage, options, false);
}

FusionStats fuse_prefill_calls(const GpuCallList& program, FusionStorage& storage, const FusionOptions& options) {
  FusionOptions merge_only{};
  merge_only.norm = merge_only.norm_int4 = merge_only.residual = merge_only.rope = false;
  merge_only.merge = options.merge;
  return fuse_calls(program, storage, merge_only, true);
}

}  // namespace dse::gpu
