// gpu_workspace_bytes (gpu_backend.h): the GPU session's scratch from the shapes of the
// artifact's calls, by the kernels' own layout arithmetic (dse/gpu/workspace.h). Host code in
// every build, as dsc computes the same number for its memory plan.
#include <algorithm>
#include <vector>

#include "dse/gpu/workspace.h"
#include "dse/runtime/gpu_backend.h"
#include "dse/runtime/loaded_model.h"
#include "dse/runtime/program_validation.h"

namespace dse::runtime {
namespace {

// The largest scratch any call of `entry` needs (addresses do not matter: shapes only).
uint64_t entry_workspace_bytes(const LoadedModel& model, const EntryPointInfo& entry, gpu::GpuApi api) {
  uint64_t most = 0;
  std::vector<TensorView> views;
  for (const InstructionInfo& in : entry.instructions) {
    views.clear();
    for (uint32_t slot : in.operands) views.push_back(make_view(model.slots()[slot], nullptr));
    const KernelCall call = make_kernel_call(views.data(), views.size(), in.iparams.data(), in.iparams.size(),
                                             in.fparams.data(), in.fparams.size());
    most = std::max(most, gpu::kernel_workspace_bytes(in.kernel, call, api));
  }
  return most;
}

}  // namespace

uint64_t gpu_workspace_bytes(const LoadedModel& model) {
  if (model.backend() == targets::Backend::cpu) return 0;
  const gpu::GpuApi api = model.backend() == targets::Backend::hip ? gpu::GpuApi::hip : gpu::GpuApi::cuda;
  return std::max(entry_workspace_bytes(model, model.prefill(), api),
                  entry_workspace_bytes(model, model.decode(), api)) +
         gpu::kGpuControlBlockBytes;
}

}  // namespace dse::runtime
