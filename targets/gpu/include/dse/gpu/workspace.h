// The scratch ("workspace") a GPU kernel call takes, as host arithmetic on static shapes: the GPU
// backend's launchers lay their scratch out with the same functions (targets/gpu/src/
// scratch_layout.h), the runtime sizes a session's workspace with it, and dsc puts the same
// number in the memory plan of a GPU artifact. Built without a GPU toolchain (dse_gpu_workspace).
#pragma once

#include <cstdint>
#include <string_view>

#include "dse/targets/kernel_abi.h"

namespace dse::gpu {

// Which GPU API the kernels are built for: the HIP build has no tensor-core paths (and so needs
// less scratch).
enum class GpuApi : uint8_t { cuda, hip };

// Scratch bytes one call of `kernel` (a docs/KERNELS.md name) needs: operand shapes, dtypes and
// group sizes and the parameters count, addresses do not. 0 for kernels that take none and for
// names it does not know. With the defaults of the DSE_GPU_* switches unless this process sets
// them (DSE_GPU_TC_MIN_TOKENS, DSE_GPU_MOE_GEMM), as the launchers read them.
uint64_t kernel_workspace_bytes(std::string_view kernel, const KernelCall& call, GpuApi api);

// The device block a GPU session keeps beside the scratch: the step, the error record and the
// sampled ids (the runtime's control block; it checks its layout fits).
inline constexpr uint64_t kGpuControlBlockBytes = 1024;

}  // namespace dse::gpu
