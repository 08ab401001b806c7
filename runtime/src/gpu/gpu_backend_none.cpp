// A build without a GPU backend: GPU artifacts are refused when opened, so these are never used
// to run anything; they only answer "not built".
#include "dse/runtime/gpu_backend.h"

namespace dse::runtime {

bool gpu_backend_built() { return false; }

targets::Backend gpu_backend_kind() { return targets::Backend::cpu; }

Result<std::unique_ptr<GpuBackend>> create_gpu_backend(const LoadedModel& model, MemoryPlan&, uint64_t) {
  return Status(StatusCode::unsupported, "the artifact targets " + model.strings().target +
                                             " but this build of libdse has no GPU backend: rebuild it with "
                                             "-DDSE_ENABLE_CUDA=ON (NVIDIA) or -DDSE_ENABLE_HIP=ON (AMD), or "
                                             "compile the model with dsc --target cpu");
}

}  // namespace dse::runtime
