// Writes a planned dsx module as an artifact (.dse): the FlatBuffers metadata (config, target,
// tokenizer, regions, slots, entry points, segment table, report) and one segment per weight
// slot, streamed from the checkpoint through the importer's materializer.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "mlir/IR/BuiltinOps.h"

#include "dse/formats/artifact_generated.h"
#include "dse/import/model_config.h"
#include "dse/import/safetensors.h"
#include "dse/targets/target_registry.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse {

// The artifact's code of a dsx slot dtype ("f32", "f16", "bf16", "i8", "i4", "fp8e4m3", "i32"):
// the value the runtime's loader turns into the kernels' DType.
fb::DType dtype_code(llvm::StringRef dtype);

// Everything the emitter reads besides the module. Pointers are borrowed for the call; only
// `tokenizer` may be null (the artifact then has no tokenizer table).
struct EmitInputs {
  std::filesystem::path output;
  const importer::ModelConfig* config = nullptr;
  const importer::SafetensorsArchive* archive = nullptr;
  const targets::TargetDesc* target = nullptr;
  const tokenizer::TokenizerData* tokenizer = nullptr;
  std::string precision = "fp32";
  std::string kv_precision = "fp32";
  int64_t max_seq_len = 0;
  int64_t max_batch = 1;
  int64_t prefill_chunk = 0;
  fb::Codec codec = fb::Codec::None;
  int codec_level = 0;
  std::string report_json;
  // Called as weights are written: slot name, its index, the number of weight slots, and the
  // rows of that slot done / total.
  std::function<void(const std::string& slot, int index, int count, int64_t rows_done,
                      int64_t rows_total)> progress;
};

// Writes the artifact to `inputs.output` (through a temporary file: nothing is left behind on
// failure). Errors are reported as diagnostics at the module's location.
mlir::LogicalResult emit_artifact(mlir::ModuleOp planned, const EmitInputs& inputs);

}  // namespace dse
