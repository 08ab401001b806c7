// The three dsc commands and their options (llvm::cl subcommands; see dsc --help).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "llvm/Support/CommandLine.h"

#include "dse/compiler/Frontend/ImportModel.h"
#include "dse/import/model_config.h"

namespace dse::dsc {

extern llvm::cl::SubCommand plan_command;
extern llvm::cl::SubCommand inspect_command;

int run_compile();  // dsc MODEL --target T --precision P -o OUT ...
int run_plan();     // dsc plan MODEL_OR_CONFIG
int run_inspect();  // dsc inspect FILE.dse

// Shared checks of option values; print a message naming the flag and return false.
bool check_precision(const std::string& precision, bool allow_empty);
// fp32, fp16, int8 or fp8; anything else is named and refused.
bool check_kv_precision(const std::string& kv_precision);
// The cache dtype of a --kv-precision value, nullopt for an unknown one.
std::optional<KvCacheDType> kv_cache_dtype(const std::string& kv_precision);

// --max-seq-len: `given` when the flag was given, else max_position_embeddings capped at 4096
// (4096 when config.json has none). A value past max_position_embeddings is refused: the rope
// table and the model stop there. nullopt after printing the message.
std::optional<int64_t> resolve_max_seq_len(const importer::ModelConfig& config,
                                           const llvm::cl::opt<int64_t>& given);

}  // namespace dse::dsc
