// The compile report: sizes read back from the planned dsx module, device fit from the target
// registry (dse::targets).
#include "dse/compiler/Emit/CompileReport.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include "dse/compiler/Dsx/Dsx.h"
#include "dse/compiler/Emit/ArtifactEmitter.h"
#include "dse/gpu/workspace.h"
#include "dse/targets/target_registry.h"

using namespace mlir;

namespace dse {

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = bytes < 0 ? -bytes : bytes;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[64];
  if (u == 0) std::snprintf(buf, sizeof buf, "%s%.0f B", bytes < 0 ? "-" : "", v);
  else std::snprintf(buf, sizeof buf, "%s%.2f %s", bytes < 0 ? "-" : "", v, units[u]);
  return buf;
}

namespace {

// What a GPU session allocates beside the three regions: the largest scratch of any planned call
// (each call's operands as the runtime's views: shape, dtype, group, bytes) and the control block.
uint64_t gpu_workspace_of(ModuleOp planned, targets::Backend backend) {
  if (backend == targets::Backend::cpu) return 0;
  const gpu::GpuApi api = backend == targets::Backend::hip ? gpu::GpuApi::hip : gpu::GpuApi::cuda;
  llvm::StringMap<dsx::SlotOp> slots;
  for (auto slot : planned.getOps<dsx::SlotOp>()) slots[slot.getSymName()] = slot;
  uint64_t most = 0;
  std::vector<TensorView> views;
  for (auto entry : planned.getOps<dsx::EntryOp>()) {
    for (auto call : entry.getBody().front().getOps<dsx::CallOp>()) {
      views.clear();
      for (Attribute a : call.getOperands()) {
        dsx::SlotOp s = slots.lookup(cast<FlatSymbolRefAttr>(a).getValue());
        TensorView v;
        v.bytes = s.getSize();
        v.dtype = DType(uint8_t(dtype_code(s.getDtype())));  // as the runtime's loader converts it
        v.rank = int32_t(std::min<size_t>(s.getShape().size(), kMaxRank));
        for (int i = 0; i < v.rank; ++i) v.shape[i] = s.getShape()[size_t(i)];
        v.group_size = int32_t(s.getGroupSize());
        views.push_back(v);
      }
      const std::vector<int64_t> ip(call.getIparams().begin(), call.getIparams().end());
      const std::vector<float> fp(call.getFparams().begin(), call.getFparams().end());
      const KernelCall kc = make_kernel_call(views.data(), views.size(), ip.data(), ip.size(), fp.data(), fp.size());
      most = std::max(most, gpu::kernel_workspace_bytes(call.getKernel(), kc, api));
    }
  }
  return most + gpu::kGpuControlBlockBytes;
}

}  // namespace

CompileReport make_report(ModuleOp planned, const importer::ModelConfig& config,
                          const std::string& precision, const std::string& kv_precision,
                          const std::string& target, int64_t max_seq_len, int64_t prefill_chunk) {
  CompileReport r;
  r.precision = precision;
  r.kv_precision = kv_precision;
  r.target = target;
  r.max_seq_len = max_seq_len;
  r.prefill_chunk = prefill_chunk;
  for (auto region : planned.getOps<dsx::RegionOp>()) {
    if (region.getKind() == "weights") r.weights_bytes = region.getSize();
    if (region.getKind() == "kv_cache") r.kv_cache_bytes = region.getSize();
    if (region.getKind() == "arena") r.arena_bytes = region.getSize();
  }
  if (Result<const targets::TargetDesc*> t = targets::find_target(target); t.ok())
    r.workspace_bytes = gpu_workspace_of(planned, (*t)->backend);
  r.total_bytes = r.weights_bytes + r.kv_cache_bytes + r.arena_bytes + r.workspace_bytes;

  // Expert weights are read only for the k experts a token selects.
  const double expert_fraction =
      config.n_routed_experts > 0 ? double(config.num_experts_per_tok) / double(config.n_routed_experts) : 1.0;
  llvm::StringMap<std::string> format_of;
  llvm::StringMap<bool> expert;
  double decode_bytes = 0;
  for (auto slot : planned.getOps<dsx::SlotOp>()) {
    if (slot.getRegion() != "weights") continue;
    std::string format;
    bool is_expert = false;
    if (auto recipe = slot.getRecipe()) {
      format = cast<StringAttr>(recipe->get("format")).str();
      is_expert = cast<StringAttr>(recipe->get("role")).getValue() == "expert";
      format_of[slot.getSymName()] = format;
      expert[slot.getSymName()] = is_expert;
    } else if (auto of = slot.getScalesOf()) {
      format = format_of.lookup(*of);
      is_expert = expert.lookup(*of);
    }
    r.weight_bytes_by_format[format] += slot.getSize();
    decode_bytes += is_expert ? double(slot.getSize()) * expert_fraction : double(slot.getSize());
  }
  r.decode_bytes_per_token = uint64_t(decode_bytes) + r.kv_cache_bytes;
  uint64_t rope_bytes = 0;
  for (auto slot : planned.getOps<dsx::SlotOp>())
    if (slot.getSymName() == "rope_table") rope_bytes = slot.getSize();
  r.context_bytes_per_token = max_seq_len > 0 ? (r.kv_cache_bytes + rope_bytes) / uint64_t(max_seq_len) : 0;
  const uint64_t fixed_bytes = r.total_bytes - r.context_bytes_per_token * uint64_t(max_seq_len);

  for (const targets::DeviceDesc& d : targets::all_devices()) {
    DeviceFit f;
    f.id = std::string(d.id);
    f.name = std::string(d.name);
    f.target = std::string(d.target);
    f.usable_bytes = d.usable_memory_bytes;
    f.margin_bytes = int64_t(d.usable_memory_bytes) - int64_t(r.total_bytes);
    f.fits = f.margin_bytes >= 0;
    f.decode_tokens_per_s = r.decode_bytes_per_token > 0
                                ? d.memory_bandwidth_gb_per_s * 1e9 / double(r.decode_bytes_per_token)
                                : 0;
    if (r.context_bytes_per_token > 0 && d.usable_memory_bytes > fixed_bytes)
      f.max_context_tokens = int64_t((d.usable_memory_bytes - fixed_bytes) / r.context_bytes_per_token);
    // Past the trained context the model is not meant to run, whatever the memory.
    if (config.max_position_embeddings > 0)
      f.max_context_tokens = std::min(f.max_context_tokens, config.max_position_embeddings);
    r.devices.push_back(f);
  }
  return r;
}

std::string CompileReport::to_json() const {
  llvm::json::Object by_format;
  for (const auto& [f, bytes] : weight_bytes_by_format) by_format[f] = int64_t(bytes);
  llvm::json::Array devs;
  for (const DeviceFit& d : devices)
    devs.push_back(llvm::json::Object{{"id", d.id},
                                      {"name", d.name},
                                      {"target", d.target},
                                      {"usable_bytes", int64_t(d.usable_bytes)},
                                      {"fits", d.fits},
                                      {"margin_bytes", d.margin_bytes},
                                      {"decode_tokens_per_s_estimate", d.decode_tokens_per_s},
                                      {"max_context_tokens", d.max_context_tokens}});
  llvm::json::Object root{
      {"precision", precision},
      {"kv_precision", kv_precision},
      {"target", target},
      {"max_seq_len", max_seq_len},
      {"prefill_chunk", prefill_chunk},
      {"max_batch", max_batch},
      {"memory",
       llvm::json::Object{{"weights_bytes", int64_t(weights_bytes)},
                          {"weights_by_format", std::move(by_format)},
                          {"kv_cache_bytes", int64_t(kv_cache_bytes)},
                          {"arena_bytes", int64_t(arena_bytes)},
                          {"workspace_bytes", int64_t(workspace_bytes)},
                          {"total_bytes", int64_t(total_bytes)}}},
      {"decode_bytes_per_token", int64_t(decode_bytes_per_token)},
      {"context_bytes_per_token", int64_t(context_bytes_per_token)},
      {"devices", std::move(devs)}};
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root)));
  return out;
}

std::string CompileReport::to_text() const {
  std::string out;
  llvm::raw_string_ostream os(out);
  os << "memory plan (precision " << precision << ", kv " << kv_precision << ", context "
     << max_seq_len << " tokens" << (max_batch > 1 ? " x " + std::to_string(max_batch) + " sequences" : std::string())
     << ", prefill chunk " << prefill_chunk << ")\n";
  for (const auto& [f, bytes] : weight_bytes_by_format)
    os << llvm::formatv("  weights {0,-5} {1,12}\n", f, format_bytes(double(bytes)));
  os << llvm::formatv("  weights total {0,12}\n", format_bytes(double(weights_bytes)));
  os << llvm::formatv("  kv cache      {0,12}\n", format_bytes(double(kv_cache_bytes)));
  os << llvm::formatv("  arena         {0,12}\n", format_bytes(double(arena_bytes)));
  os << llvm::formatv("  workspace     {0,12}\n", format_bytes(double(workspace_bytes)));
  os << llvm::formatv("  total         {0,12}\n", format_bytes(double(total_bytes)));
  os << "devices (usable memory; decode estimate = bandwidth / bytes read per token; longest\n"
        "context that fits with this precision, at most max_position_embeddings):\n";
  for (const DeviceFit& d : devices)
    os << llvm::formatv("  {0,-28} {1,-7} {2,12} {3,-13} margin {4,12}  ~{5,8:f1} tok/s  max context {6}\n",
                        d.name, d.target, format_bytes(double(d.usable_bytes)),
                        d.fits ? "fits" : "DOES NOT FIT", format_bytes(double(d.margin_bytes)),
                        d.decode_tokens_per_s, d.max_context_tokens);
  return out;
}

}  // namespace dse
