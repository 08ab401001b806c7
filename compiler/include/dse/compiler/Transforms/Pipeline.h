// The dsc pass pipeline, stage by stage, so that dsc can stop and print after any of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mlir/Pass/PassManager.h"

namespace dse {

struct PipelineOptions {
  std::string precision = "fp32";
  int64_t group_size = 128;
  bool target_has_fp8 = false;
  std::vector<std::string> overrides;  // SUBSTRING=FORMAT
  std::string target = "cpu";
  int64_t alignment = 256;
};

// Stage names in order: "import" (no pass), "fuse", "quantize", "select", "plan" (plan memory
// and verify the plan).
const std::vector<std::string>& pipeline_stages();

// Adds the passes of the stages after "import" up to and including `last_stage`.
void build_pipeline(mlir::PassManager& pm, const PipelineOptions& options,
                    const std::string& last_stage = "plan");

}  // namespace dse
