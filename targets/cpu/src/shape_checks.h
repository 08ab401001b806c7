// Per-family static shape checks, referenced from the kernel table (kernel_registry.cpp) and
// implemented in call_validation.cpp.
#pragma once

#include "dse/cpu/kernel_registry.h"

namespace dse::cpu::shape_checks {

Status embed(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status rms_norm(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status matmul(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status add(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status silu_mul(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status rope(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status kv_store(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status attention(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status mla_attention(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status moe_route(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status moe_ffn(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);
Status last_row(const CpuKernelInfo&, const KernelCall&, const TensorView* const*);

}  // namespace dse::cpu::shape_checks
