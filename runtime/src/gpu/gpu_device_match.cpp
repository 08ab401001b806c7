// Matching a GPU against an artifact's target (see gpu_device_match.h).
#include "dse/runtime/gpu_device_match.h"

namespace dse::runtime {

namespace {

// "GPU 0 (NVIDIA H100 80GB HBM3, compute capability 9.0 = sm_90)" or
// "GPU 0 (AMD Instinct MI250X, gcnArchName gfx90a:sramecc+:xnack- = gfx90a)".
std::string describe_device(const GpuDeviceProps& device, const std::string& device_target) {
  std::string arch = device.backend == targets::Backend::hip
                         ? "gcnArchName " + device.arch_name
                         : "compute capability " + std::to_string(device.major) + "." + std::to_string(device.minor);
  return "GPU " + std::to_string(device.ordinal) + " (" + device.name + ", " + arch + " = " + device_target + ")";
}

// What to do about an artifact for the wrong target: recompile for the device's, if dsc has one.
std::string recompile_hint(const std::string& device_target) {
  if (targets::find_target(device_target).ok()) return "recompile the model with dsc --target " + device_target;
  return "dsc has no target " + device_target + ", so this GPU cannot run compiled models yet";
}

std::string_view vendor_words(targets::Backend backend) {
  return backend == targets::Backend::hip ? "an AMD GPU (HIP)" : "a CUDA GPU";
}

}  // namespace

std::string cuda_target_name(int major, int minor) { return "sm_" + std::to_string(major * 10 + minor); }

std::string hip_target_name(std::string_view gcn_arch_name) {
  return std::string(gcn_arch_name.substr(0, gcn_arch_name.find(':')));
}

std::string device_target_name(const GpuDeviceProps& device) {
  return device.backend == targets::Backend::hip ? hip_target_name(device.arch_name)
                                                 : cuda_target_name(device.major, device.minor);
}

Result<const targets::TargetDesc*> match_gpu_device(const GpuDeviceProps& device, std::string_view artifact_target,
                                                    std::span<const std::string> required_features) {
  const std::string device_target = device_target_name(device);
  const std::string who = describe_device(device, device_target);
  if (device_target.empty()) {
    return Status(StatusCode::target_mismatch,
                  who + " reports no architecture name, so it cannot be matched against the artifact's target " +
                      std::string(artifact_target) + "; update the GPU driver (ROCm) and check rocminfo");
  }
  Result<const targets::TargetDesc*> target = targets::find_target(artifact_target);
  if (!target.ok()) {
    return Status(StatusCode::target_mismatch,
                  "the artifact was compiled for target \"" + std::string(artifact_target) +
                      "\", which this build of libdse does not know; " + who + ": " + recompile_hint(device_target));
  }
  const targets::TargetDesc* t = *target;
  if (t->backend != device.backend) {
    return Status(StatusCode::target_mismatch,
                  "the artifact was compiled for target " + std::string(t->name) + " (" +
                      std::string(targets::backend_name(t->backend)) + "), not for " +
                      std::string(vendor_words(device.backend)) + "; " + who + ": " + recompile_hint(device_target));
  }
  // Exact architecture: the compiler chose kernels, tile shapes and features for this one.
  if (t->name != device_target) {
    return Status(StatusCode::target_mismatch,
                  "the artifact was compiled for " + std::string(t->name) + " (" + std::string(t->description) +
                      ") but the device is " + who + "; " + recompile_hint(device_target) + "; or run it on a " +
                      std::string(t->name) + " GPU");
  }
  Status features = targets::check_required_features(*t, required_features);
  if (!features.ok()) return Status(features.code(), who + ": " + features.message());
  return t;
}

}  // namespace dse::runtime
