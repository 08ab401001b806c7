// dsc: compiles a Hugging Face model folder into a .dse artifact for one target, says which
// precision fits which device (dsc plan), and describes an artifact (dsc inspect).
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include "DscCommands.h"

int main(int argc, char** argv) {
  llvm::InitLLVM init(argc, argv);
  llvm::cl::SetVersionPrinter([](llvm::raw_ostream& os) { os << "dsc 0.1.0 (MLIR 22.1)\n"; });
  if (!llvm::cl::ParseCommandLineOptions(
          argc, argv,
          "dsc: DeepSeek Edge compiler\n\n"
          "  dsc MODEL --target T --precision P [-o OUT] [options]   compile a model folder\n"
          "  dsc plan MODEL_OR_CONFIG [--precision P] [--max-seq-len N] [--device NAME]\n"
          "                                                 memory fit per device\n"
          "  dsc inspect FILE.dse                                     describe an artifact\n\n"
          "MODEL is a Hugging Face folder: config.json, *.safetensors, tokenizer.json,\n"
          "tokenizer_config.json. --memory-budget BYTES and --device NAME make a plan that does\n"
          "not fit an error. --max-seq-len defaults to max_position_embeddings, at most 4096.\n"
          "--kv-precision is fp32, fp16, int8 or fp8; int8 and fp8 KV caches are quantized in\n"
          "software (one f32 scale per position and KV head), so every target can store them.\n"
          "Exit status: 0 on success, 1 on any error (no output file is left behind).\n",
          &llvm::errs()))
    return 1;
  if (dse::dsc::plan_command) return dse::dsc::run_plan();
  if (dse::dsc::inspect_command) return dse::dsc::run_inspect();
  return dse::dsc::run_compile();
}
