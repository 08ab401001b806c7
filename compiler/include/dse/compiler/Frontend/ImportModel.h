// Builds the dsg graph of a Hugging Face model from its config (and, when given, checks every
// weight recipe against the checkpoint): the first step of dsc.
#pragma once

#include <cstdint>
#include <string>

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "dse/import/model_config.h"
#include "dse/import/safetensors.h"

namespace dse {

// Element type of the KV caches (--kv-precision fp32, fp16, int8, fp8). int8 and fp8 caches are
// quantized in software per (position, group) with an F32 scale slot (docs/KERNELS.md).
enum class KvCacheDType { f32, f16, i8, fp8e4m3 };

struct ImportOptions {
  int64_t max_seq_len = 4096;   // tokens the KV cache holds (exactly) and the rope table covers
  int64_t prefill_chunk = 512;  // token capacity of the prefill entry point
  int64_t max_batch = 1;        // sequences: KV cache slots, and the decode entry's token capacity
  KvCacheDType kv_dtype = KvCacheDType::f32;
  std::string source_name;      // for diagnostic locations: the model folder or config path
};

// A module with func.func @prefill(tensor<chunk x i32>) -> tensor<1 x vocab x f32> (the logits of
// the chunk's last token) and @decode(tensor<max_batch x i32>) -> tensor<max_batch x vocab x f32>
// (one row per sequence). Every KV cache holds max_batch slots of max_seq_len rows. `archive` may be null (dsc plan): shapes then come from the
// config alone. With an archive, every weight's recipe is checked against the checkpoint
// (tensor present, shape as the config implies) and a mismatch is a diagnostic naming the
// tensor. Failure has been reported through the context's diagnostic handler.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>> import_model(
    mlir::MLIRContext& context, const importer::ModelConfig& config, const ImportOptions& options,
    const importer::SafetensorsArchive* archive);

}  // namespace dse
