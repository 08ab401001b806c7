// validate_cpu_call: the generic signature checks, then each kernel family's shape rules.
#include <cmath>
#include <string>

#include "dse/cpu/kernel_limits.h"
#include "dse/cpu/kernel_registry.h"
#include "dse/targets/kv_quant.h"
#include "shape_checks.h"

namespace dse::cpu {
namespace {

std::string shape_str(const TensorView& t) {
  std::string s = "[";
  for (int i = 0; i < t.rank; ++i) {
    if (i) s += ", ";
    s += std::to_string(t.shape[i]);
  }
  return s + "]";
}

std::string dtypes_str(uint16_t mask) {
  std::string s;
  for (unsigned d = 0; d < 8; ++d) {
    if (mask & (1u << d)) {
      if (!s.empty()) s += " or ";
      s += dtype_name(DType(d));
    }
  }
  return s;
}

Status fail(const CpuKernelInfo& info, const std::string& what) {
  return Status(StatusCode::invalid_argument,
                std::string(info.name) + ": " + what +
                    " (see docs/KERNELS.md; the artifact was produced by an incompatible or faulty "
                    "compiler: recompile the model with this SDK's dsc)");
}

// Index of the operand spec `name` in the kernel's signature; the bound operand or null.
const TensorView* op(const CpuKernelInfo& info, const TensorView* const* ops, std::string_view name) {
  for (size_t i = 0; i < info.operands.size(); ++i) {
    if (info.operands[i].name == name) return ops[i];
  }
  return nullptr;
}

std::string op_label(const CpuKernelInfo& info, const TensorView* const* ops, const TensorView* t) {
  for (size_t i = 0; i < info.operands.size(); ++i) {
    if (ops[i] == t) return std::string("operand '") + info.operands[i].name + "' " + shape_str(*t);
  }
  return "operand";
}

// Requires t.shape[dim] == expected; names the operand, the dim and where the expectation came from.
Status expect_dim(const CpuKernelInfo& info, const TensorView* const* ops, const TensorView* t, int dim,
                  int64_t expected, const char* why) {
  if (t->shape[dim] == expected) return Status::Ok();
  return fail(info, op_label(info, ops, t) + ": dim " + std::to_string(dim) + " is " +
                        std::to_string(t->shape[dim]) + ", expected " + std::to_string(expected) + " (" + why + ")");
}

bool overlaps(const TensorView* a, const TensorView* b) {
  auto pa = static_cast<const uint8_t*>(a->data);
  auto pb = static_cast<const uint8_t*>(b->data);
  return pa < pb + b->bytes && pb < pa + a->bytes;
}

// `out` may be exactly `in` when `same_ok`, but never partly overlap it.
Status expect_no_overlap(const CpuKernelInfo& info, const TensorView* const* ops, const TensorView* out,
                         const TensorView* in, bool same_ok) {
  if (same_ok && out->data == in->data && out->bytes == in->bytes) return Status::Ok();
  if (!overlaps(out, in)) return Status::Ok();
  return fail(info, op_label(info, ops, out) + " overlaps " + op_label(info, ops, in) +
                        (same_ok ? "; it must be the same buffer or a disjoint one" : "; they must be disjoint buffers"));
}

// Token dimension: every activation of a call has the same capacity.
Status expect_same_rows(const CpuKernelInfo& info, const TensorView* const* ops, const TensorView* a,
                        const TensorView* b) {
  if (a->shape[0] == b->shape[0]) return Status::Ok();
  return expect_dim(info, ops, b, 0, a->shape[0], ("token capacity of " + op_label(info, ops, a)).c_str());
}

// Weight slot plus scale slot of one matrix [.., N, K] (lead = number of leading expert dims).
Status check_weight_and_scales(const CpuKernelInfo& info, const TensorView* const* ops, const TensorView* w,
                               const TensorView* s, int lead) {
  const WeightFormat f = info.weight_format;
  const int64_t n = w->shape[lead], k = w->shape[lead + 1];
  if (f == WeightFormat::w4) {
    const int64_t g = w->group_size;
    if (g < 2 || g % 2 != 0 || k % g != 0) {
      return fail(info, op_label(info, ops, w) + ": group_size " + std::to_string(g) +
                            " must be even, >= 2 and divide K = " + std::to_string(k));
    }
  }
  if (!has_scale_slot(f)) return Status::Ok();
  for (int d = 0; d < lead; ++d) DSE_RETURN_IF_ERROR(expect_dim(info, ops, s, d, w->shape[d], "expert count of the weight"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, s, lead, n, "one scale row per weight row N"));
  if (f == WeightFormat::w4) {
    DSE_RETURN_IF_ERROR(expect_dim(info, ops, s, lead + 1, k / w->group_size, "K / group_size scales per row"));
  }
  return Status::Ok();
}

// The scale slot of a quantized cache: F32 [S, groups], one row per cache position. `scales` is
// null exactly when the cache is F32/F16 (the binding step made it so).
Status check_cache_scales(const CpuKernelInfo& info, const TensorView* const* ops, const TensorView* cache,
                          const TensorView* scales, int64_t groups, const char* why) {
  if (!scales) return Status::Ok();
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, scales, 0, cache->shape[0], "one scale row per cache position"));
  return expect_dim(info, ops, scales, 1, groups, why);
}

}  // namespace

bool operand_present(const OperandSpec& spec, const KernelCall& call, uint32_t index) {
  if (spec.present_if_iparam == kPresentIfQuantizedCache) {
    return index > 0 && index - 1 < call.n_operands && call.operands &&
           is_quantized_cache(call.operands[index - 1].dtype);
  }
  if (spec.present_if_iparam < 0) return true;
  return uint32_t(spec.present_if_iparam) < call.n_iparams && call.iparams[spec.present_if_iparam] != 0;
}

Status validate_cpu_call(const CpuKernelInfo& info, const KernelCall& call) {
  // Parameters first: optional operands depend on them.
  if (call.n_iparams != info.iparams.size() || (call.n_iparams && !call.iparams)) {
    return fail(info, "expected " + std::to_string(info.iparams.size()) + " integer parameters, found " +
                          std::to_string(call.n_iparams));
  }
  if (call.n_fparams != info.fparams.size() || (call.n_fparams && !call.fparams)) {
    return fail(info, "expected " + std::to_string(info.fparams.size()) + " float parameters, found " +
                          std::to_string(call.n_fparams));
  }
  for (size_t i = 0; i < info.iparams.size(); ++i) {
    const IParamSpec& p = info.iparams[i];
    if (call.iparams[i] < p.min || call.iparams[i] > p.max) {
      return fail(info, std::string("integer parameter ") + std::to_string(i) + " '" + p.name + "' is " +
                            std::to_string(call.iparams[i]) + ", expected a value in [" + std::to_string(p.min) +
                            ", " + std::to_string(p.max) + "]");
    }
  }
  for (size_t i = 0; i < info.fparams.size(); ++i) {
    const FParamSpec& p = info.fparams[i];
    const float v = call.fparams[i];
    if (!std::isfinite(v) || v < p.min || v > p.max) {
      return fail(info, std::string("float parameter ") + std::to_string(i) + " '" + p.name + "' is " +
                            std::to_string(v) + ", expected a finite value in [" + std::to_string(p.min) + ", " +
                            std::to_string(p.max) + "]");
    }
  }
  // Bind operands to the signature, skipping absent optional ones. A cache's scale slot is present
  // iff the operand before it is a quantized cache, so presence is decided while walking the call.
  const TensorView* ops[kMaxOperandSpecs] = {};
  if (call.n_operands && !call.operands) return fail(info, "has operands but no operand array");
  uint32_t expected = 0;
  bool reads_cache_scales = false;
  for (const OperandSpec& s : info.operands) {
    if (operand_present(s, call, expected)) ++expected;
    reads_cache_scales |= s.present_if_iparam == kPresentIfQuantizedCache;
  }
  if (call.n_operands != expected) {
    return fail(info, "expected " + std::to_string(expected) + " operands for these parameters" +
                          (reads_cache_scales ? " and cache dtypes (an I8 or FP8E4M3 cache is followed by its F32 "
                                                "scale slot)"
                                              : "") +
                          ", found " + std::to_string(call.n_operands));
  }
  uint32_t next = 0;
  for (size_t i = 0; i < info.operands.size(); ++i) {
    const OperandSpec& s = info.operands[i];
    if (!operand_present(s, call, next)) continue;
    const TensorView& t = call.operands[next];
    const uint32_t index = next++;
    auto label = [&] { return "operand " + std::to_string(index) + " '" + s.name + "'"; };
    ops[i] = &t;
    if (unsigned(t.dtype) > unsigned(DType::u8) || !(s.dtypes & dtype_bit(t.dtype))) {
      return fail(info, label() + " has dtype " + std::string(dtype_name(t.dtype)) + ", expected " + dtypes_str(s.dtypes));
    }
    if (t.rank != s.rank) {
      return fail(info, label() + " has rank " + std::to_string(t.rank) + ", expected " + std::to_string(s.rank));
    }
    int64_t count = 1;
    for (int d = 0; d < t.rank; ++d) {
      if (t.shape[d] < 1 || t.shape[d] > kMaxDim) {
        return fail(info, label() + " " + shape_str(t) + ": dim " + std::to_string(d) + " must be in [1, 2^40]");
      }
      if (count > (int64_t(1) << 62) / t.shape[d]) return fail(info, label() + " " + shape_str(t) + " has too many elements");
      count *= t.shape[d];
    }
    const int64_t need = dtype_bytes(t.dtype, count);
    if (need < 0) return fail(info, label() + " " + shape_str(t) + ": an I4 tensor needs an even element count");
    const bool exact = s.role == OperandRole::weight || s.role == OperandRole::scale || s.role == OperandRole::param;
    if (exact ? int64_t(t.bytes) != need : int64_t(t.bytes) < need) {
      return fail(info, label() + " " + shape_str(t) + " " + std::string(dtype_name(t.dtype)) + " is " +
                            std::to_string(t.bytes) + " bytes, expected " + (exact ? "" : "at least ") +
                            std::to_string(need));
    }
    if (!t.data) return fail(info, label() + " has no data (null address)");
  }
  return info.check_shapes(info, call, ops);
}

// ---- kernel families ---------------------------------------------------------------------

namespace shape_checks {

Status embed(const CpuKernelInfo& info, const KernelCall&, const TensorView* const* ops) {
  const TensorView *tokens = ops[0], *table = ops[1], *out = ops[2];
  DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, tokens, out));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, table->shape[1], "hidden size of the table"));
  return expect_no_overlap(info, ops, out, tokens, false);
}

Status rms_norm(const CpuKernelInfo& info, const KernelCall&, const TensorView* const* ops) {
  const TensorView *x = ops[0], *w = ops[1], *out = ops[2];
  DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, x, out));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, x->shape[1], "width of x"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, w, 0, x->shape[1], "width of x"));
  return expect_no_overlap(info, ops, out, x, true);
}

Status matmul(const CpuKernelInfo& info, const KernelCall&, const TensorView* const* ops) {
  const TensorView* x = op(info, ops, "x");
  const TensorView* w = op(info, ops, "weight");
  const TensorView* s = op(info, ops, "scales");
  const TensorView* bias = op(info, ops, "bias");
  const TensorView* out = op(info, ops, "out");
  const int64_t n = w->shape[0], k = w->shape[1];
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, x, 1, k, "K, the weight's dim 1"));
  DSE_RETURN_IF_ERROR(check_weight_and_scales(info, ops, w, s, 0));
  if (bias) DSE_RETURN_IF_ERROR(expect_dim(info, ops, bias, 0, n, "N, the weight's dim 0"));
  DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, x, out));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, n, "N, the weight's dim 0"));
  return expect_no_overlap(info, ops, out, x, false);
}

Status add(const CpuKernelInfo& info, const KernelCall&, const TensorView* const* ops) {
  const TensorView *a = ops[0], *b = ops[1], *out = ops[2];
  for (const TensorView* t : {b, out}) {
    DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, a, t));
    DSE_RETURN_IF_ERROR(expect_dim(info, ops, t, 1, a->shape[1], "width of a"));
  }
  DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, out, a, true));
  return expect_no_overlap(info, ops, out, b, true);
}

Status silu_mul(const CpuKernelInfo& info, const KernelCall&, const TensorView* const* ops) {
  const TensorView *gu = ops[0], *out = ops[1];
  if (gu->shape[1] % 2 != 0) {
    return fail(info, op_label(info, ops, gu) + ": width must be even (gate half, then up half)");
  }
  DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, gu, out));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, gu->shape[1] / 2, "half the width of gate_up"));
  return expect_no_overlap(info, ops, out, gu, false);
}

Status rope(const CpuKernelInfo& info, const KernelCall& call, const TensorView* const* ops) {
  const TensorView *x = ops[0], *table = ops[1];
  const int64_t n_heads = call.iparams[0], head_dim = call.iparams[1];
  const int64_t rot_offset = call.iparams[2], rot_dim = call.iparams[3];
  if (rot_dim % 2 != 0 || rot_offset + rot_dim > head_dim) {
    return fail(info, "rot_dim " + std::to_string(rot_dim) + " must be even and rot_offset + rot_dim (" +
                          std::to_string(rot_offset + rot_dim) + ") at most head_dim " + std::to_string(head_dim));
  }
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, x, 1, n_heads * head_dim, "n_heads * head_dim"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, table, 1, rot_dim, "rot_dim: cos half, then sin half"));
  return expect_no_overlap(info, ops, x, table, false);
}

Status kv_store(const CpuKernelInfo& info, const KernelCall&, const TensorView* const* ops) {
  const TensorView *src = ops[0], *cache = ops[1], *scales = ops[2];
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, cache, 1, src->shape[1], "width of src"));
  if (scales) {
    // The groups split the row evenly; the attention kernel that reads the cache checks their count.
    const int64_t groups = scales->shape[1];
    if (cache->shape[1] % groups != 0) {
      return fail(info, op_label(info, ops, scales) + ": " + std::to_string(groups) +
                            " scale groups do not divide the cache row of " + std::to_string(cache->shape[1]) +
                            " values (one group per KV head, or one per row)");
    }
    DSE_RETURN_IF_ERROR(check_cache_scales(info, ops, cache, scales, groups, "groups of the row"));
    DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, scales, src, false));
    DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, scales, cache, false));
  }
  return expect_no_overlap(info, ops, cache, src, false);
}

Status attention(const CpuKernelInfo& info, const KernelCall& call, const TensorView* const* ops) {
  const TensorView *q = ops[0], *k = ops[1], *ks = ops[2], *v = ops[3], *vs = ops[4], *out = ops[5];
  const int64_t hq = call.iparams[0], hkv = call.iparams[1], d = call.iparams[2], dv = call.iparams[3];
  if (hq % hkv != 0) {
    return fail(info, "n_q_heads " + std::to_string(hq) + " must be a multiple of n_kv_heads " + std::to_string(hkv));
  }
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, q, 1, hq * d, "n_q_heads * head_dim"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, k, 1, hkv * d, "n_kv_heads * head_dim"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, v, 1, hkv * dv, "n_kv_heads * v_head_dim"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, v, 0, k->shape[0], "cache length of k_cache"));
  DSE_RETURN_IF_ERROR(check_cache_scales(info, ops, k, ks, hkv, "one scale per KV head"));
  DSE_RETURN_IF_ERROR(check_cache_scales(info, ops, v, vs, hkv, "one scale per KV head"));
  DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, q, out));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, hq * dv, "n_q_heads * v_head_dim"));
  for (const TensorView* in : {q, k, ks, v, vs}) {
    if (in) DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, out, in, false));
  }
  return Status::Ok();
}

Status mla_attention(const CpuKernelInfo& info, const KernelCall& call, const TensorView* const* ops) {
  const TensorView *q = ops[0], *latent = ops[1], *ls = ops[2], *pe = ops[3], *ps = ops[4];
  const TensorView *w_uk = ops[5], *w_uv = ops[6], *out = ops[7];
  const int64_t h = call.iparams[0], dn = call.iparams[1], dr = call.iparams[2];
  const int64_t c = call.iparams[3], dv = call.iparams[4];
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, q, 1, h * (dn + dr), "n_heads * (qk_nope_head_dim + qk_rope_head_dim)"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, latent, 1, c, "kv_lora_rank"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, pe, 0, latent->shape[0], "cache length of latent_cache"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, pe, 1, dr, "qk_rope_head_dim"));
  DSE_RETURN_IF_ERROR(check_cache_scales(info, ops, latent, ls, 1, "one scale per latent row"));
  DSE_RETURN_IF_ERROR(check_cache_scales(info, ops, pe, ps, 1, "one scale per rope row"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, w_uk, 0, h, "n_heads"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, w_uk, 1, dn, "qk_nope_head_dim"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, w_uk, 2, c, "kv_lora_rank"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, w_uv, 0, h, "n_heads"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, w_uv, 1, dv, "v_head_dim"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, w_uv, 2, c, "kv_lora_rank"));
  DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, q, out));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, h * dv, "n_heads * v_head_dim"));
  for (const TensorView* in : {q, latent, ls, pe, ps}) {
    if (in) DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, out, in, false));
  }
  return Status::Ok();
}

Status moe_route(const CpuKernelInfo& info, const KernelCall& call, const TensorView* const* ops) {
  const TensorView *logits = ops[0], *bias = ops[1], *ids = ops[2], *weights = ops[3];
  const int64_t top_k = call.iparams[0], n_group = call.iparams[1], topk_group = call.iparams[2];
  const int64_t method = call.iparams[4];
  const int64_t e = logits->shape[1];
  if (e > kMaxExperts) {
    return fail(info, op_label(info, ops, logits) + ": " + std::to_string(e) + " experts, the CPU kernel supports at most " +
                          std::to_string(kMaxExperts));
  }
  if (top_k > e) return fail(info, "top_k " + std::to_string(top_k) + " exceeds the " + std::to_string(e) + " experts");
  if (method != 0) {
    if (e % n_group != 0 || topk_group > n_group) {
      return fail(info, "n_group " + std::to_string(n_group) + " must divide the " + std::to_string(e) +
                            " experts and topk_group " + std::to_string(topk_group) + " must not exceed it");
    }
    if (top_k > topk_group * (e / n_group)) {
      return fail(info, "top_k " + std::to_string(top_k) + " exceeds the " + std::to_string(topk_group * (e / n_group)) +
                            " experts of the topk_group kept groups");
    }
    if (method == 2 && e / n_group < 2) {
      return fail(info, "noaux_tc scores a group by its 2 best experts; groups of " + std::to_string(e / n_group) +
                            " expert are too small");
    }
  }
  if (bias) DSE_RETURN_IF_ERROR(expect_dim(info, ops, bias, 0, e, "number of experts, logits dim 1"));
  for (const TensorView* t : {ids, weights}) {
    DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, logits, t));
    DSE_RETURN_IF_ERROR(expect_dim(info, ops, t, 1, top_k, "top_k"));
  }
  for (const TensorView* out : {ids, weights}) {
    DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, out, logits, false));
    if (bias) DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, out, bias, false));
  }
  return expect_no_overlap(info, ops, weights, ids, false);
}

Status moe_ffn(const CpuKernelInfo& info, const KernelCall& call, const TensorView* const* ops) {
  const TensorView* x = op(info, ops, "x");
  const TensorView* ids = op(info, ops, "ids");
  const TensorView* weights = op(info, ops, "weights");
  const TensorView* gu = op(info, ops, "gate_up");
  const TensorView* gus = op(info, ops, "gate_up_scales");
  const TensorView* down = op(info, ops, "down");
  const TensorView* ds = op(info, ops, "down_scales");
  const TensorView* out = op(info, ops, "out");
  const int64_t e = call.iparams[0], top_k = call.iparams[1], inter = call.iparams[2], hidden = call.iparams[3];
  if (top_k > e) return fail(info, "top_k " + std::to_string(top_k) + " exceeds n_experts " + std::to_string(e));
  if (top_k * inter > kMaxMoeScratch) {
    return fail(info, "top_k * intermediate_size = " + std::to_string(top_k * inter) + " exceeds the CPU kernel's bound " +
                          std::to_string(kMaxMoeScratch));
  }
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, x, 1, hidden, "hidden_size"));
  for (const TensorView* t : {ids, weights}) {
    DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, x, t));
    DSE_RETURN_IF_ERROR(expect_dim(info, ops, t, 1, top_k, "top_k"));
  }
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, gu, 0, e, "n_experts"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, gu, 1, 2 * inter, "2 * intermediate_size, gate rows then up rows"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, gu, 2, hidden, "hidden_size"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, down, 0, e, "n_experts"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, down, 1, hidden, "hidden_size"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, down, 2, inter, "intermediate_size"));
  DSE_RETURN_IF_ERROR(check_weight_and_scales(info, ops, gu, gus, 1));
  DSE_RETURN_IF_ERROR(check_weight_and_scales(info, ops, down, ds, 1));
  DSE_RETURN_IF_ERROR(expect_same_rows(info, ops, x, out));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, hidden, "hidden_size"));
  for (const TensorView* in : {x, ids, weights}) DSE_RETURN_IF_ERROR(expect_no_overlap(info, ops, out, in, false));
  return Status::Ok();
}

Status last_row(const CpuKernelInfo& info, const KernelCall&, const TensorView* const* ops) {
  const TensorView *x = ops[0], *out = ops[1];
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 0, 1, "one row"));
  DSE_RETURN_IF_ERROR(expect_dim(info, ops, out, 1, x->shape[1], "width of x"));
  return expect_no_overlap(info, ops, out, x, false);
}

}  // namespace shape_checks
}  // namespace dse::cpu
