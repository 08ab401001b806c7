// dsc MODEL --target T --precision P: import -> passes -> report -> artifact.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <unistd.h>

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Signals.h"
#include "llvm/Support/raw_ostream.h"

#include "DscCommands.h"
#include "DiagnosticPrinter.h"
#include "MemoryLimit.h"
#include "dse/compiler/Dsx/Dsx.h"
#include "dse/compiler/Emit/ArtifactEmitter.h"
#include "dse/compiler/Emit/CompileReport.h"
#include "dse/compiler/Frontend/ImportModel.h"
#include "dse/compiler/Transforms/Pipeline.h"
#include "dse/import/model_config.h"
#include "dse/import/safetensors.h"
#include "dse/targets/kernel_abi.h"
#include "dse/targets/target_registry.h"
#include "dse/tokenizer/load_tokenizer_json.h"

namespace cl = llvm::cl;
namespace fs = std::filesystem;

namespace dse::dsc {
namespace {

cl::OptionCategory category("dsc compile options");
cl::opt<std::string> model_path(cl::Positional, cl::desc("<MODEL folder>"), cl::cat(category));
cl::opt<std::string> target_name("target", cl::desc("target registry key: cpu, sm_87, sm_90, gfx942, ..."),
                                 cl::value_desc("T"), cl::cat(category));
cl::opt<std::string> precision("precision",
                               cl::desc("weight precision: fp32, fp16, bf16, int8, int4 (w4, group "
                                        "--group-size), fp8 (targets with fp8 only)"),
                               cl::value_desc("P"), cl::cat(category));
cl::opt<std::string> output("o", cl::desc("output artifact (default: <model folder name>.dse)"),
                            cl::value_desc("OUT"), cl::cat(category));
cl::opt<int64_t> max_seq_len("max-seq-len",
                             cl::desc("context in tokens; the KV cache holds exactly this many (default: "
                                      "max_position_embeddings of config.json, at most 4096; a "
                                      "value past max_position_embeddings is refused)"),
                             cl::init(0), cl::value_desc("N"), cl::cat(category));
cl::opt<int64_t> max_batch("max-batch", cl::desc("sequences generated together (1 to 64, default 1): the KV cache holds this many "
                                    "contexts of --max-seq-len tokens and each decode step advances all of them"), cl::init(1),
                           cl::value_desc("N"), cl::cat(category));
cl::opt<int64_t> prefill_chunk("prefill-chunk",
                               cl::desc("tokens per prefill call; sizes the activation arena (default 512)"),
                               cl::init(512), cl::value_desc("N"), cl::cat(category));
cl::opt<std::string> kv_precision("kv-precision",
                                  cl::desc("KV cache storage: fp32, fp16, int8 or fp8 (default fp32 "
                                           "when --precision is fp32, else fp16); int8 and fp8 "
                                           "caches are quantized in software with one f32 scale "
                                           "per position and KV head, so every target takes them"),
                                  cl::value_desc("fp32|fp16|int8|fp8"), cl::cat(category));
cl::opt<std::string> compress("compress", cl::desc("compress weight segments: zstd or zstd:LEVEL (1-19)"),
                              cl::value_desc("zstd[:LEVEL]"), cl::cat(category));
cl::opt<int64_t> group_size("group-size", cl::desc("int4 group size in input elements (default 128)"),
                            cl::init(128), cl::value_desc("N"), cl::cat(category));
cl::list<std::string> quant_override(
    "quant-override",
    cl::desc("store weights whose name contains SUBSTRING as FORMAT (f32, f16, bf16, w8, w4, fp8); "
             "repeatable, e.g. --quant-override lm_head=w8"),
    cl::value_desc("SUBSTRING=FORMAT"), cl::cat(category));
cl::opt<std::string> memory_budget(
    "memory-budget",
    cl::desc("fail unless weights + KV cache + arena + workspace fit in BYTES (6GiB, 512MiB, "
             "8GB, 4294967296)"),
    cl::value_desc("BYTES"), cl::cat(category));
cl::opt<std::string> device_name(
    "device",
    cl::desc("fail unless the plan fits the usable memory of this device of the target registry "
             "(orin-nano-8gb, rtx-4090, h100-sxm-80gb, ...; see dsc plan)"),
    cl::value_desc("NAME"), cl::cat(category));
cl::opt<bool> report("report", cl::desc("print the memory plan and the fit on every known device"),
                     cl::cat(category));
cl::opt<std::string> report_json("report-json", cl::desc("write the report as JSON to FILE"),
                                 cl::value_desc("FILE"), cl::cat(category));
cl::opt<std::string> chat_template(
    "chat-template",
    cl::desc("a Jinja chat template file to derive the chat format from, instead of the "
             "chat_template in tokenizer_config.json (DeepSeek-V3/R1 and ChatML styles)"),
    cl::value_desc("FILE"), cl::cat(category));
cl::opt<std::string> emit_mlir("emit-mlir",
                               cl::desc("print the IR after STAGE (import, fuse, quantize, select, "
                                        "plan) to stdout and stop without writing an artifact"),
                               cl::value_desc("STAGE"), cl::cat(category));

// The partial artifact to delete if a SIGPIPE (progress written to a closed pipe) ends dsc:
// LLVM's signal handlers cover SIGINT and SIGTERM but leave SIGPIPE to the default action.
char partial_path[4096];
extern "C" void remove_partial_on_sigpipe(int) {
  unlink(partial_path);  // async-signal-safe
  std::signal(SIGPIPE, SIG_DFL);
  std::raise(SIGPIPE);
}

int fail(const std::string& message) {
  llvm::errs() << "dsc: error: " << message << "\n";
  return 1;
}

}  // namespace

bool check_precision(const std::string& p, bool allow_empty) {
  if (allow_empty && p.empty()) return true;
  for (const char* known : {"fp32", "fp16", "bf16", "int8", "int4", "fp8"})
    if (p == known) return true;
  llvm::errs() << "dsc: error: --precision '" << p
               << "' is not one of fp32, fp16, bf16, int8, int4, fp8\n";
  return false;
}

bool check_kv_precision(const std::string& kv) {
  if (kv_cache_dtype(kv)) return true;
  llvm::errs() << "dsc: error: --kv-precision '" << kv << "' is not one of fp32, fp16, int8, fp8\n";
  return false;
}

std::optional<KvCacheDType> kv_cache_dtype(const std::string& kv) {
  if (kv == "fp32") return KvCacheDType::f32;
  if (kv == "fp16") return KvCacheDType::f16;
  if (kv == "int8") return KvCacheDType::i8;
  if (kv == "fp8") return KvCacheDType::fp8e4m3;
  return std::nullopt;
}

std::optional<int64_t> resolve_max_seq_len(const importer::ModelConfig& config,
                                           const cl::opt<int64_t>& given) {
  const int64_t trained = config.max_position_embeddings;
  if (given.getNumOccurrences() == 0) return trained > 0 ? std::min<int64_t>(trained, 4096) : 4096;
  if (trained > 0 && given > trained) {
    llvm::errs() << "dsc: error: --max-seq-len " << given.getValue()
                 << " is longer than max_position_embeddings " << trained
                 << " of config.json: the model was not trained for positions past it; use "
                    "--max-seq-len "
                 << trained << " or less\n";
    return std::nullopt;
  }
  return given.getValue();
}

int run_compile() {
  if (model_path.empty()) return fail("no MODEL folder given (dsc MODEL --target T --precision P -o OUT; see --help)");
  if (target_name.empty()) return fail("--target is required (e.g. --target cpu)");
  if (precision.empty()) return fail("--precision is required (fp32, fp16, bf16, int8, int4, fp8)");
  if (!check_precision(precision, false)) return 1;
  std::string kv = kv_precision.empty() ? (precision == "fp32" ? "fp32" : "fp16") : kv_precision.getValue();
  if (!check_kv_precision(kv)) return 1;
  Result<std::vector<MemoryLimit>> limits = memory_limits(memory_budget, device_name);
  if (!limits.ok()) return fail(limits.status().message());
  if (max_batch < 1 || max_batch > kMaxBatch)
    return fail("--max-batch " + std::to_string(max_batch) + " is outside 1 to " + std::to_string(kMaxBatch));
  fb::Codec codec = fb::Codec::None;
  int level = 0;
  if (!compress.empty()) {
    llvm::StringRef c = compress;
    if (!c.consume_front("zstd")) return fail("--compress '" + compress + "' is not zstd or zstd:LEVEL");
    codec = fb::Codec::Zstd;
    level = 3;
    if (c.consume_front(":") && (c.getAsInteger(10, level) || level < 1 || level > 19))
      return fail("--compress zstd:LEVEL needs a LEVEL from 1 to 19, found '" + compress + "'");
  }
  Result<const targets::TargetDesc*> target = targets::find_target(target_name);
  if (!target.ok()) return fail(target.status().message());
  const std::string stage = emit_mlir;
  const auto& stages = pipeline_stages();
  if (!stage.empty() && std::find(stages.begin(), stages.end(), stage) == stages.end())
    return fail("--emit-mlir '" + stage + "' is not one of import, fuse, quantize, select, plan");

  Result<importer::ModelConfig> config = importer::load_model_config(model_path.getValue());
  if (!config.ok()) return fail(config.status().message());
  const std::optional<int64_t> seq_len = resolve_max_seq_len(*config, max_seq_len);
  if (!seq_len) return 1;
  Result<importer::SafetensorsArchive> archive = importer::SafetensorsArchive::open(model_path.getValue());
  if (!archive.ok()) return fail(archive.status().message());

  mlir::MLIRContext context;
  context.loadDialect<dsx::DsxDialect>();
  install_diagnostic_printer(context, "dsc");
  ImportOptions import_options;
  import_options.max_seq_len = *seq_len;
  import_options.prefill_chunk = prefill_chunk;
  import_options.max_batch = max_batch;
  import_options.kv_dtype = *kv_cache_dtype(kv);
  import_options.source_name = (fs::path(model_path.getValue()) / "config.json").string();
  auto module = import_model(context, *config, import_options, &archive.value());
  if (failed(module)) return 1;
  if (stage == "import") {
    (*module)->print(llvm::outs());
    return 0;
  }
  PipelineOptions pipeline;
  pipeline.precision = precision;
  pipeline.group_size = group_size;
  pipeline.target_has_fp8 = (*target)->features.fp8;
  pipeline.overrides.assign(quant_override.begin(), quant_override.end());
  pipeline.target = std::string((*target)->name);
  mlir::PassManager pm(&context);
  build_pipeline(pm, pipeline, stage.empty() ? "plan" : stage);
  if (failed(pm.run(**module))) return 1;
  if (!stage.empty()) {
    (*module)->print(llvm::outs());
    return 0;
  }

  const int64_t chunk = std::min<int64_t>(prefill_chunk, *seq_len);
  CompileReport rep = make_report(**module, *config, precision, kv, pipeline.target, *seq_len, chunk);
  rep.max_batch = max_batch;
  const std::string json = rep.to_json();
  if (report) llvm::outs() << rep.to_text();
  // Before anything is written: a plan that does not fit leaves no artifact and no report file.
  if (std::string over = check_memory_fit(rep, *limits); !over.empty()) return fail(over);
  if (!report_json.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream out(report_json, ec);
    if (ec) return fail("cannot write --report-json " + report_json + ": " + ec.message());
    out << json << "\n";
  }

  std::optional<tokenizer::TokenizerData> tok;
  fs::path tok_json = fs::path(model_path.getValue()) / "tokenizer.json";
  fs::path tok_cfg = fs::path(model_path.getValue()) / "tokenizer_config.json";
  std::optional<std::string> template_override;
  if (!chat_template.empty()) {
    std::ifstream in(chat_template.getValue(), std::ios::binary);
    if (!in) return fail("cannot read --chat-template " + chat_template.getValue());
    template_override = std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (!fs::exists(tok_json))
      return fail("--chat-template needs the model's tokenizer.json, and " + tok_json.string() +
                  " does not exist");
  }
  if (fs::exists(tok_json)) {
    Result<tokenizer::TokenizerData> loaded = tokenizer::load_tokenizer_json(
        tok_json.string(), fs::exists(tok_cfg) ? tok_cfg.string() : "",
        template_override ? std::optional<std::string_view>(*template_override) : std::nullopt);
    if (!loaded.ok()) return fail(loaded.status().message());
    tok = std::move(loaded.value());
  } else {
    llvm::errs() << "dsc: warning: " << tok_json.string()
                 << " not found; the artifact has no tokenizer (dse-run will need token ids)\n";
  }

  EmitInputs in;
  if (output.empty()) {
    // "./DeepSeek-V2-Lite/" -> "DeepSeek-V2-Lite.dse" in the current directory.
    fs::path folder = fs::absolute(model_path.getValue()).lexically_normal();
    if (folder.filename().empty()) folder = folder.parent_path();
    std::string stem = folder.filename().string();
    in.output = (stem.empty() ? std::string("model") : stem) + ".dse";
  } else {
    in.output = output.getValue();
  }
  in.config = &config.value();
  in.archive = &archive.value();
  in.target = *target;
  in.tokenizer = tok ? &*tok : nullptr;
  in.precision = precision;
  in.kv_precision = kv;
  in.max_seq_len = *seq_len;
  in.max_batch = max_batch;
  in.prefill_chunk = chunk;
  in.codec = codec;
  in.codec_level = level;
  in.report_json = json;
  const bool tty = isatty(fileno(stderr));
  int last_percent = -1;
  in.progress = [&](const std::string& slot, int index, int count, int64_t done, int64_t total) {
    int percent = int(100.0 * (index + (total ? double(done) / double(total) : 1.0)) / count);
    if (tty) {
      llvm::errs() << llvm::format("\rdsc: writing weights %3d%% [%d/%d] %-60.60s", percent,
                                   index + 1, count, slot.c_str());
    } else if (percent / 10 != last_percent / 10) {
      llvm::errs() << "dsc: writing weights " << percent << "% (" << slot << ")\n";
    }
    last_percent = percent;
  };
  // The writer streams into "<output>.tmp.<pid>" (artifact_writer.h) and renames it at the end;
  // an interrupt must not leave that file behind either.
  const std::string partial = in.output.string() + ".tmp." + std::to_string(getpid());
  llvm::sys::RemoveFileOnSignal(partial);
  std::snprintf(partial_path, sizeof partial_path, "%s", partial.c_str());
  std::signal(SIGPIPE, remove_partial_on_sigpipe);
  if (failed(emit_artifact(**module, in))) {
    if (tty) llvm::errs() << "\n";
    return 1;
  }
  llvm::sys::DontRemoveFileOnSignal(partial);
  std::signal(SIGPIPE, SIG_DFL);
  if (tty) llvm::errs() << "\n";
  llvm::errs() << "dsc: wrote " << in.output.string() << " (" << format_bytes(double(fs::file_size(in.output)))
               << "; weights " << format_bytes(double(rep.weights_bytes)) << ", kv cache "
               << format_bytes(double(rep.kv_cache_bytes)) << ", arena "
               << format_bytes(double(rep.arena_bytes)) << ")\n";
  return 0;
}

}  // namespace dse::dsc
