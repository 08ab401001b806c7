// The GPU kernel registry: one row per kernel of docs/KERNELS.md.
#include "dse/gpu/kernel_registry.h"

#include "attention.cuh"
#include "elementwise.cuh"
#include "embed.cuh"
#include "kv_store.cuh"
#include "matmul.cuh"
#include "mla_attention.cuh"
#include "moe_ffn.cuh"
#include "moe_route.cuh"
#include "norm.cuh"
#include "rope.cuh"

namespace dse::gpu {
namespace {

using cpu::WeightFormat;

uint64_t no_workspace(const KernelCall&) { return 0; }

constexpr GpuKernelInfo kKernels[] = {
    {"embed_f32_f32", launch_embed_f32_f32, no_workspace},
    {"embed_f32_f16", launch_embed_f32_f16, no_workspace},
    {"embed_f32_bf16", launch_embed_f32_bf16, no_workspace},
    {"rms_norm_f32", launch_rms_norm_f32, no_workspace},
    {"matmul_f32_f32", launch_matmul_f32<WeightFormat::f32>, matmul_f32_workspace<WeightFormat::f32>},
    {"matmul_f32_f16", launch_matmul_f32<WeightFormat::f16>, matmul_f32_workspace<WeightFormat::f16>},
    {"matmul_f32_bf16", launch_matmul_f32<WeightFormat::bf16>, matmul_f32_workspace<WeightFormat::bf16>},
    {"matmul_f32_w8", launch_matmul_f32<WeightFormat::w8>, matmul_f32_workspace<WeightFormat::w8>},
    {"matmul_f32_w4", launch_matmul_f32<WeightFormat::w4>, matmul_f32_workspace<WeightFormat::w4>},
    {"matmul_f32_fp8", launch_matmul_f32<WeightFormat::fp8>, matmul_f32_workspace<WeightFormat::fp8>},
    {"add_f32", launch_add_f32, no_workspace},
    {"silu_mul_f32", launch_silu_mul_f32, no_workspace},
    {"rope_f32", launch_rope_f32, no_workspace},
    {"kv_store", launch_kv_store, no_workspace},
    {"attention_f32", launch_attention_f32, attention_f32_workspace},
    {"mla_attention_f32", launch_mla_attention_f32, mla_attention_f32_workspace},
    {"moe_route_f32", launch_moe_route_f32, no_workspace},
    {"moe_ffn_f32_f32", launch_moe_ffn_f32<WeightFormat::f32>, moe_ffn_f32_workspace<WeightFormat::f32>},
    {"moe_ffn_f32_f16", launch_moe_ffn_f32<WeightFormat::f16>, moe_ffn_f32_workspace<WeightFormat::f16>},
    {"moe_ffn_f32_bf16", launch_moe_ffn_f32<WeightFormat::bf16>, moe_ffn_f32_workspace<WeightFormat::bf16>},
    {"moe_ffn_f32_w8", launch_moe_ffn_f32<WeightFormat::w8>, moe_ffn_f32_workspace<WeightFormat::w8>},
    {"moe_ffn_f32_w4", launch_moe_ffn_f32<WeightFormat::w4>, moe_ffn_f32_workspace<WeightFormat::w4>},
    {"moe_ffn_f32_fp8", launch_moe_ffn_f32<WeightFormat::fp8>, moe_ffn_f32_workspace<WeightFormat::fp8>},
    {"last_row_f32", launch_last_row_f32, no_workspace},
};

}  // namespace

std::span<const GpuKernelInfo> gpu_kernels() { return kKernels; }

const GpuKernelInfo* find_gpu_kernel(std::string_view name) {
  for (const GpuKernelInfo& k : kKernels)
    if (k.name == name) return &k;
  return nullptr;
}

}  // namespace dse::gpu
