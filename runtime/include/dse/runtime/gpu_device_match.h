// Whether a GPU can run an artifact compiled for a target: the device's architecture (NVIDIA:
// compute capability; AMD: gcnArchName) against the target registry, and the artifact's required
// features. Pure data, so it is tested without a GPU; the GPU backend fills GpuDeviceProps from
// cudaGetDeviceProperties (hipGetDeviceProperties in a HIP build).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dse/status.h"
#include "dse/targets/target_registry.h"

namespace dse::runtime {

struct GpuDeviceProps {
  targets::Backend backend = targets::Backend::cuda;  // the vendor API the device was found through
  std::string name;              // "NVIDIA H100 80GB HBM3", "AMD Instinct MI250X"
  std::string arch_name;         // AMD: gcnArchName, "gfx90a:sramecc+:xnack-"; empty on NVIDIA
  int ordinal = 0;               // the device number (CUDA_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES)
  int major = 0, minor = 0;      // compute capability (NVIDIA; on AMD not the architecture)
  bool integrated = false;       // shares system memory with the CPU (Jetson, AMD APUs)
  bool pageable_memory_access = false;  // the GPU may read any host pointer (Grace, some Jetsons)
  uint64_t total_memory_bytes = 0;
};

// "sm_90" for compute capability 9.0: the registry's name for the device's architecture.
std::string cuda_target_name(int major, int minor);

// "gfx90a" for gcnArchName "gfx90a:sramecc+:xnack-": the processor without the target features.
// Code built for the bare processor runs with either setting of sramecc and xnack, which is how
// the kernels are built (CMAKE_HIP_ARCHITECTURES lists bare names), so only the processor is matched.
std::string hip_target_name(std::string_view gcn_arch_name);

// The registry name of the device's architecture (one of the two above, by `device.backend`);
// empty when the device reported none.
std::string device_target_name(const GpuDeviceProps& device);

// The target `artifact_target` (TargetInfo.name) if `device` runs it: the registry knows the
// target, its backend is the device's (cuda or hip), its architecture is the device's, and the
// target has every feature in `required_features`. Errors: target_mismatch naming the device,
// its architecture and the artifact's target, and what to recompile with; invalid_argument for a
// feature this build does not know.
Result<const targets::TargetDesc*> match_gpu_device(const GpuDeviceProps& device, std::string_view artifact_target,
                                                    std::span<const std::string> required_features);

}  // namespace dse::runtime
