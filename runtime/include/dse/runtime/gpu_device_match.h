// Whether a GPU can run an artifact compiled for a target: the device's architecture (compute
// capability) against the target registry, and the artifact's required features. Pure data, so it
// is tested without a GPU; the CUDA backend fills GpuDeviceProps from cudaGetDeviceProperties.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "dse/status.h"
#include "dse/targets/target_registry.h"

namespace dse::runtime {

struct GpuDeviceProps {
  std::string name;              // "NVIDIA H100 80GB HBM3"
  int ordinal = 0;               // the CUDA device number
  int major = 0, minor = 0;      // compute capability
  bool integrated = false;       // shares system memory with the CPU (Jetson)
  bool pageable_memory_access = false;  // the GPU may read any host pointer (Grace, some Jetsons)
  uint64_t total_memory_bytes = 0;
};

// "sm_90" for compute capability 9.0: the registry's name for the device's architecture.
std::string cuda_target_name(int major, int minor);

// The target `artifact_target` (TargetInfo.name) if `device` runs it: the registry knows the
// target, it is a CUDA target, its architecture is the device's, and the target has every
// feature in `required_features`. Errors: target_mismatch naming the device, its architecture
// and the artifact's target, and what to recompile with; invalid_argument for a feature this
// build does not know.
Result<const targets::TargetDesc*> match_cuda_device(const GpuDeviceProps& device, std::string_view artifact_target,
                                                     std::span<const std::string> required_features);

}  // namespace dse::runtime
