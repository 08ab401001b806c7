// The GPU kernel registry: every kernel of docs/KERNELS.md as data (name -> launcher, scratch
// size). Same names, operands and semantics as the CPU registry (dse/cpu/kernel_registry.h), so
// the loader validates a call once with dse::cpu::validate_cpu_call and then resolves the name in
// whichever backend the session runs on.
#pragma once

#include <span>
#include <string_view>

#include "dse/gpu/gpu_launch.h"

namespace dse::gpu {

struct GpuKernelInfo {
  std::string_view name;
  GpuKernelFn launch;
  GpuWorkspaceFn workspace_bytes;  // never null; returns 0 for kernels that need no scratch
};

// Every GPU kernel, in a fixed order (static storage, valid for the program's lifetime).
std::span<const GpuKernelInfo> gpu_kernels();

// The kernel named `name`, or null if this GPU build has none.
const GpuKernelInfo* find_gpu_kernel(std::string_view name);

}  // namespace dse::gpu
