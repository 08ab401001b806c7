// The table of CPU kernels: one entry per name in docs/KERNELS.md, with its operand signature.
#include "dse/cpu/kernel_registry.h"

#include <array>
#include <limits>

#include "dse/cpu/attention.h"
#include "dse/cpu/elementwise.h"
#include "dse/cpu/embed.h"
#include "dse/cpu/kernel_limits.h"
#include "dse/cpu/kv_store.h"
#include "dse/cpu/matmul.h"
#include "dse/cpu/mla_attention.h"
#include "dse/cpu/moe_ffn.h"
#include "dse/cpu/moe_route.h"
#include "dse/cpu/norm.h"
#include "dse/cpu/rope.h"
#include "shape_checks.h"

namespace dse::cpu {
namespace {

using R = OperandRole;
constexpr float kFloatMax = std::numeric_limits<float>::max();

// ---- operand signatures ------------------------------------------------------------------

template <DType D>
constexpr OperandSpec kEmbedOps[] = {
    {"tokens", R::input, kI32, 1},
    {"table", R::weight, dtype_bit(D), 2},
    {"out", R::output, kF32, 2},
};

constexpr OperandSpec kRmsNormOps[] = {
    {"x", R::input, kF32, 2},
    {"weight", R::param, kF32, 1},
    {"out", R::output, kF32, 2},
};
constexpr FParamSpec kRmsNormF[] = {{"eps", 0.0f, 1.0f}};

// x, W, [scales], [bias if has_bias], out.
template <WeightFormat F>
constexpr auto matmul_ops() {
  if constexpr (has_scale_slot(F)) {
    return std::array<OperandSpec, 5>{{
        {"x", R::input, kF32, 2},
        {"weight", R::weight, dtype_bit(weight_dtype(F)), 2},
        {"scales", R::scale, dtype_bit(scale_dtype(F)), int8_t(F == WeightFormat::w4 ? 2 : 1)},
        {"bias", R::param, kF32, 1, 0},
        {"out", R::output, kF32, 2},
    }};
  } else {
    return std::array<OperandSpec, 4>{{
        {"x", R::input, kF32, 2},
        {"weight", R::weight, dtype_bit(weight_dtype(F)), 2},
        {"bias", R::param, kF32, 1, 0},
        {"out", R::output, kF32, 2},
    }};
  }
}
template <WeightFormat F>
constexpr auto kMatmulOps = matmul_ops<F>();
constexpr IParamSpec kMatmulI[] = {{"has_bias", 0, 1}};

constexpr OperandSpec kAddOps[] = {
    {"a", R::input, kF32, 2},
    {"b", R::input, kF32, 2},
    {"out", R::output, kF32, 2},
};

constexpr OperandSpec kSiluMulOps[] = {
    {"gate_up", R::input, kF32, 2},
    {"out", R::output, kF32, 2},
};

constexpr OperandSpec kRopeOps[] = {
    {"x", R::inout, kF32, 2},
    {"table", R::param, kF32, 2},
};
constexpr IParamSpec kRopeI[] = {
    {"n_heads", 1, kMaxHeads},
    {"head_dim", 2, kMaxHeadDim},
    {"rot_offset", 0, kMaxHeadDim - 2},
    {"rot_dim", 2, kMaxHeadDim},
    {"interleaved", 0, 1},
};

// A quantized (I8/FP8E4M3) cache is followed by its F32 [S, groups] scales.
constexpr int8_t kIfQuantized = kPresentIfQuantizedCache;

constexpr OperandSpec kKvStoreOps[] = {
    {"src", R::input, kF32, 2},
    {"cache", R::cache, kCacheDTypes, 2},
    {"cache_scales", R::cache, kF32, 2, kIfQuantized},
};

constexpr OperandSpec kAttentionOps[] = {
    {"q", R::input, kF32, 2},
    {"k_cache", R::cache, kCacheDTypes, 2},
    {"k_scales", R::cache, kF32, 2, kIfQuantized},
    {"v_cache", R::cache, kCacheDTypes, 2},
    {"v_scales", R::cache, kF32, 2, kIfQuantized},
    {"out", R::output, kF32, 2},
};
constexpr IParamSpec kAttentionI[] = {
    {"n_q_heads", 1, kMaxHeads},
    {"n_kv_heads", 1, kMaxHeads},
    {"head_dim", 1, kMaxHeadDim},
    {"v_head_dim", 1, kMaxHeadDim},
};
constexpr FParamSpec kScaleF[] = {{"scale", 0.0f, kFloatMax}};

constexpr OperandSpec kMlaOps[] = {
    {"q", R::input, kF32, 2},
    {"latent_cache", R::cache, kCacheDTypes, 2},
    {"latent_scales", R::cache, kF32, 2, kIfQuantized},
    {"pe_cache", R::cache, kCacheDTypes, 2},
    {"pe_scales", R::cache, kF32, 2, kIfQuantized},
    {"w_uk", R::weight, kFloatWeightDTypes, 3},
    {"w_uv", R::weight, kFloatWeightDTypes, 3},
    {"out", R::output, kF32, 2},
};
constexpr IParamSpec kMlaI[] = {
    {"n_heads", 1, kMaxHeads},
    {"qk_nope_head_dim", 1, kMaxHeadDim},
    {"qk_rope_head_dim", 1, kMaxHeadDim},
    {"kv_lora_rank", 1, kMaxLatentRank},
    {"v_head_dim", 1, kMaxHeadDim},
};

constexpr OperandSpec kMoeRouteOps[] = {
    {"logits", R::input, kF32, 2},
    {"bias", R::param, kF32, 1, 6},
    {"ids", R::output, kI32, 2},
    {"weights", R::output, kF32, 2},
};
constexpr IParamSpec kMoeRouteI[] = {
    {"top_k", 1, kMaxTopK},
    {"n_group", 1, kMaxExperts},
    {"topk_group", 1, kMaxExperts},
    {"scoring", 0, 1},
    {"method", 0, 2},
    {"norm_topk_prob", 0, 1},
    {"has_bias", 0, 1},
};
constexpr FParamSpec kMoeRouteF[] = {{"routed_scaling_factor", 0.0f, kFloatMax}};

// x, ids, weights, gate_up W, [scales], down W, [scales], out.
template <WeightFormat F>
constexpr auto moe_ffn_ops() {
  constexpr uint16_t w = dtype_bit(weight_dtype(F));
  if constexpr (has_scale_slot(F)) {
    constexpr uint16_t s = dtype_bit(scale_dtype(F));
    constexpr int8_t sr = F == WeightFormat::w4 ? 3 : 2;
    return std::array<OperandSpec, 8>{{
        {"x", R::input, kF32, 2},
        {"ids", R::input, kI32, 2},
        {"weights", R::input, kF32, 2},
        {"gate_up", R::weight, w, 3},
        {"gate_up_scales", R::scale, s, sr},
        {"down", R::weight, w, 3},
        {"down_scales", R::scale, s, sr},
        {"out", R::output, kF32, 2},
    }};
  } else {
    return std::array<OperandSpec, 6>{{
        {"x", R::input, kF32, 2},
        {"ids", R::input, kI32, 2},
        {"weights", R::input, kF32, 2},
        {"gate_up", R::weight, w, 3},
        {"down", R::weight, w, 3},
        {"out", R::output, kF32, 2},
    }};
  }
}
template <WeightFormat F>
constexpr auto kMoeFfnOps = moe_ffn_ops<F>();
constexpr IParamSpec kMoeFfnI[] = {
    {"n_experts", 1, kMaxExperts},
    {"top_k", 1, kMaxTopK},
    {"intermediate_size", 1, kMaxMoeScratch},
    {"hidden_size", 1, kMaxDim},
};

constexpr OperandSpec kLastRowOps[] = {
    {"x", R::input, kF32, 2},
    {"out", R::output, kF32, 2},
};

// ---- the table ---------------------------------------------------------------------------

using W = WeightFormat;
namespace sc = shape_checks;

template <WeightFormat F>
constexpr CpuKernelInfo matmul_info(std::string_view name) {
  return {name, &matmul_f32<F>, kMatmulOps<F>, kMatmulI, {}, F, &sc::matmul};
}
template <WeightFormat F>
constexpr CpuKernelInfo moe_ffn_info(std::string_view name) {
  return {name, &moe_ffn_f32<F>, kMoeFfnOps<F>, kMoeFfnI, {}, F, &sc::moe_ffn};
}

const CpuKernelInfo kKernels[] = {
    {"embed_f32_f32", &embed_f32_f32, kEmbedOps<DType::f32>, {}, {}, W::f32, &sc::embed},
    {"embed_f32_f16", &embed_f32_f16, kEmbedOps<DType::f16>, {}, {}, W::f16, &sc::embed},
    {"embed_f32_bf16", &embed_f32_bf16, kEmbedOps<DType::bf16>, {}, {}, W::bf16, &sc::embed},
    {"rms_norm_f32", &rms_norm_f32, kRmsNormOps, {}, kRmsNormF, W::f32, &sc::rms_norm},
    matmul_info<W::f32>("matmul_f32_f32"),
    matmul_info<W::f16>("matmul_f32_f16"),
    matmul_info<W::bf16>("matmul_f32_bf16"),
    matmul_info<W::w8>("matmul_f32_w8"),
    matmul_info<W::w4>("matmul_f32_w4"),
    matmul_info<W::fp8>("matmul_f32_fp8"),
    {"add_f32", &add_f32, kAddOps, {}, {}, W::f32, &sc::add},
    {"silu_mul_f32", &silu_mul_f32, kSiluMulOps, {}, {}, W::f32, &sc::silu_mul},
    {"rope_f32", &rope_f32, kRopeOps, kRopeI, {}, W::f32, &sc::rope},
    {"kv_store", &kv_store, kKvStoreOps, {}, {}, W::f32, &sc::kv_store},
    {"attention_f32", &attention_f32, kAttentionOps, kAttentionI, kScaleF, W::f32, &sc::attention},
    {"mla_attention_f32", &mla_attention_f32, kMlaOps, kMlaI, kScaleF, W::f32, &sc::mla_attention},
    {"moe_route_f32", &moe_route_f32, kMoeRouteOps, kMoeRouteI, kMoeRouteF, W::f32, &sc::moe_route},
    moe_ffn_info<W::f32>("moe_ffn_f32_f32"),
    moe_ffn_info<W::f16>("moe_ffn_f32_f16"),
    moe_ffn_info<W::bf16>("moe_ffn_f32_bf16"),
    moe_ffn_info<W::w8>("moe_ffn_f32_w8"),
    moe_ffn_info<W::w4>("moe_ffn_f32_w4"),
    moe_ffn_info<W::fp8>("moe_ffn_f32_fp8"),
    {"last_row_f32", &last_row_f32, kLastRowOps, {}, {}, W::f32, &sc::last_row},
};

}  // namespace

std::span<const CpuKernelInfo> cpu_kernels() { return kKernels; }

const CpuKernelInfo* find_cpu_kernel(std::string_view name) {
  for (const CpuKernelInfo& k : kKernels) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

}  // namespace dse::cpu
