// dsc plan MODEL_OR_CONFIG: builds and plans the graph from config.json alone (no weights are
// read) and prints, per precision, the memory plan and the fit on every known device (or on the
// one --device names).
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include "DscCommands.h"
#include "DiagnosticPrinter.h"
#include "dse/compiler/Dsx/Dsx.h"
#include "dse/compiler/Emit/CompileReport.h"
#include "dse/compiler/Frontend/ImportModel.h"
#include "dse/compiler/Transforms/Pipeline.h"
#include "dse/import/model_config.h"
#include "dse/targets/target_registry.h"

namespace cl = llvm::cl;

namespace dse::dsc {

cl::SubCommand plan_command("plan",
                            "memory plan and device fit of a model from its config.json alone");

namespace {
cl::opt<std::string> plan_model(cl::Positional, cl::desc("<MODEL folder or config.json>"),
                                cl::sub(plan_command));
cl::opt<std::string> plan_precision("precision",
                                    cl::desc("one precision (default: fp16, int8 and int4)"),
                                    cl::value_desc("P"), cl::sub(plan_command));
cl::opt<int64_t> plan_max_seq_len("max-seq-len",
                                  cl::desc("context in tokens (default: max_position_embeddings, "
                                           "at most 4096)"),
                                  cl::init(0), cl::value_desc("N"), cl::sub(plan_command));
cl::opt<int64_t> plan_max_batch("max-batch",
                                cl::desc("sequences generated together (1 to 64, default 1): the KV "
                                         "cache holds this many contexts"),
                                cl::init(1), cl::value_desc("N"), cl::sub(plan_command));
cl::opt<int64_t> plan_chunk("prefill-chunk", cl::desc("tokens per prefill call (default 512)"),
                            cl::init(512), cl::value_desc("N"), cl::sub(plan_command));
cl::opt<std::string> plan_kv("kv-precision",
                             cl::desc("fp32, fp16, int8 or fp8 (default fp32 for fp32 weights, else "
                                      "fp16); int8/fp8 caches add one f32 scale per position and "
                                      "KV head"),
                             cl::value_desc("fp32|fp16|int8|fp8"), cl::sub(plan_command));
cl::opt<std::string> plan_device("device",
                                 cl::desc("print the fit on this device only (id or product name)"),
                                 cl::value_desc("NAME"), cl::sub(plan_command));
cl::opt<std::string> plan_json("report-json", cl::desc("also write the reports as a JSON array"),
                               cl::value_desc("FILE"), cl::sub(plan_command));
}  // namespace

int run_plan() {
  if (plan_model.empty()) {
    llvm::errs() << "dsc plan: error: no MODEL folder or config.json given\n";
    return 1;
  }
  if (!check_precision(plan_precision, true)) return 1;
  if (!plan_kv.empty() && !check_kv_precision(plan_kv)) return 1;
  const targets::DeviceDesc* device = nullptr;
  if (!plan_device.empty()) {
    Result<const targets::DeviceDesc*> found = targets::find_device(plan_device.getValue());
    if (!found.ok()) {
      llvm::errs() << "dsc plan: error: " << found.status().message() << "\n";
      return 1;
    }
    device = *found;
  }
  Result<importer::ModelConfig> config = importer::load_model_config(plan_model.getValue());
  if (!config.ok()) {
    llvm::errs() << "dsc plan: error: " << config.status().message() << "\n";
    return 1;
  }
  const std::optional<int64_t> context = resolve_max_seq_len(*config, plan_max_seq_len);
  if (!context) return 1;
  std::vector<std::string> precisions;
  if (plan_precision.empty()) precisions = {"fp16", "int8", "int4"};
  else precisions = {plan_precision};
  llvm::outs() << "model " << config->architecture << " (" << importer::model_family_name(config->family)
               << "): " << config->num_layers << " layers, hidden " << config->hidden_size
               << ", vocab " << config->vocab_size << "\n";
  std::string json = "[";
  for (const std::string& p : precisions) {
    std::string kv = plan_kv.empty() ? (p == "fp32" ? "fp32" : "fp16") : plan_kv.getValue();
    mlir::MLIRContext mlir_context;
    mlir_context.loadDialect<dsx::DsxDialect>();
    install_diagnostic_printer(mlir_context, "dsc plan");
    ImportOptions options;
    options.max_seq_len = *context;
    options.prefill_chunk = plan_chunk;
    options.max_batch = plan_max_batch;
    options.kv_dtype = *kv_cache_dtype(kv);
    options.source_name = plan_model;
    auto module = import_model(mlir_context, *config, options, nullptr);
    if (failed(module)) return 1;
    PipelineOptions pipeline;
    pipeline.precision = p;
    // Planning is about sizes: fp8 weights are one byte whatever the target.
    pipeline.target_has_fp8 = true;
    mlir::PassManager pm(&mlir_context);
    build_pipeline(pm, pipeline);
    if (failed(pm.run(**module))) return 1;
    CompileReport rep = make_report(**module, *config, p, kv, "cpu", *context,
                                    std::min<int64_t>(plan_chunk, *context));
    rep.max_batch = plan_max_batch;
    if (device)
      std::erase_if(rep.devices, [&](const DeviceFit& f) { return f.id != device->id; });
    llvm::outs() << "\n" << rep.to_text();
    if (json.size() > 1) json += ",";
    json += rep.to_json();
  }
  json += "]";
  if (!plan_json.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream out(plan_json, ec);
    if (ec) {
      llvm::errs() << "dsc plan: error: cannot write " << plan_json << ": " << ec.message() << "\n";
      return 1;
    }
    out << json << "\n";
  }
  return 0;
}

}  // namespace dse::dsc
