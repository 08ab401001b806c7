// The dsc pipeline: fuse -> quantize -> select kernels -> plan memory -> verify plan.
#include "dse/compiler/Transforms/Pipeline.h"

#include <algorithm>

#include "dse/compiler/Transforms/Passes.h"

namespace dse {

const std::vector<std::string>& pipeline_stages() {
  static const std::vector<std::string> stages{"import", "fuse", "quantize", "select", "plan"};
  return stages;
}

void build_pipeline(mlir::PassManager& pm, const PipelineOptions& o, const std::string& last) {
  const auto& stages = pipeline_stages();
  auto upto = [&](const char* stage) {
    return std::find(stages.begin(), stages.end(), stage) <=
           std::find(stages.begin(), stages.end(), last);
  };
  if (upto("fuse")) pm.addPass(createFuseWeights());
  if (upto("quantize")) {
    QuantizeWeightsOptions q;
    q.precision = o.precision;
    q.groupSize = o.group_size;
    q.targetHasFp8 = o.target_has_fp8;
    q.overrides.assign(o.overrides.begin(), o.overrides.end());
    pm.addPass(createQuantizeWeights(q));
  }
  if (upto("select")) pm.addPass(createSelectKernels(SelectKernelsOptions{o.target}));
  if (upto("plan")) {
    pm.addPass(createPlanMemory(PlanMemoryOptions{o.alignment}));
    pm.addPass(createVerifyPlan());
  }
}

}  // namespace dse
