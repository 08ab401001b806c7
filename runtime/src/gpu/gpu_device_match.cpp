// Matching a GPU against an artifact's target (see gpu_device_match.h).
#include "dse/runtime/gpu_device_match.h"

namespace dse::runtime {

std::string cuda_target_name(int major, int minor) { return "sm_" + std::to_string(major * 10 + minor); }

Result<const targets::TargetDesc*> match_cuda_device(const GpuDeviceProps& device, std::string_view artifact_target,
                                                     std::span<const std::string> required_features) {
  const std::string device_target = cuda_target_name(device.major, device.minor);
  const std::string who = "GPU " + std::to_string(device.ordinal) + " (" + device.name + ", compute capability " +
                          std::to_string(device.major) + "." + std::to_string(device.minor) + " = " + device_target + ")";
  Result<const targets::TargetDesc*> target = targets::find_target(artifact_target);
  if (!target.ok()) {
    return Status(StatusCode::target_mismatch, "the artifact was compiled for target \"" + std::string(artifact_target) +
                                                   "\", which this build of libdse does not know; " + who +
                                                   " needs an artifact compiled with dsc --target " + device_target);
  }
  const targets::TargetDesc* t = *target;
  if (t->backend != targets::Backend::cuda) {
    return Status(StatusCode::target_mismatch, "the artifact was compiled for target " + std::string(t->name) + " (" +
                                                   std::string(targets::backend_name(t->backend)) +
                                                   "), not for a CUDA GPU; " + who +
                                                   " needs an artifact compiled with dsc --target " + device_target);
  }
  // Exact architecture: the compiler chose kernels, tile shapes and features for this one.
  if (t->name != device_target) {
    return Status(StatusCode::target_mismatch,
                  "the artifact was compiled for " + std::string(t->name) + " (" + std::string(t->description) +
                      ") but the device is " + who + "; recompile the model with dsc --target " + device_target +
                      " or run it on a " + std::string(t->name) + " GPU");
  }
  Status features = targets::check_required_features(*t, required_features);
  if (!features.ok()) return Status(features.code(), who + ": " + features.message());
  return t;
}

}  // namespace dse::runtime
