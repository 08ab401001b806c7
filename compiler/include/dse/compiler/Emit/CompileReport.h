// The memory plan of a compiled module in numbers (weights by format, KV cache, arena), and for
// every known device whether it fits, the margin, and a bandwidth-bound decode estimate.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "mlir/IR/BuiltinOps.h"

#include "dse/import/model_config.h"

namespace dse {

struct DeviceFit {
  std::string id, name, target;
  uint64_t usable_bytes = 0;
  bool fits = false;
  int64_t margin_bytes = 0;          // usable - total; negative when it does not fit
  double decode_tokens_per_s = 0;    // bandwidth / bytes read per decode step
  // The longest context (tokens) whose KV cache and rope table still fit beside the rest of the
  // plan; 0 when not even one token does.
  int64_t max_context_tokens = 0;
};

struct CompileReport {
  std::string precision, kv_precision, target;
  int64_t max_seq_len = 0, prefill_chunk = 0, max_batch = 1;
  std::map<std::string, uint64_t> weight_bytes_by_format;  // "w4" -> bytes (scales included)
  uint64_t weights_bytes = 0;   // the weights region
  uint64_t kv_cache_bytes = 0;  // the kv_cache region
  uint64_t arena_bytes = 0;     // the activation arena
  // GPU targets: the kernels' scratch (the largest need of any call; tens of MiB for a 512-token
  // prefill chunk) and the session's control block, computed by the kernels' own layout
  // arithmetic (dse/gpu/workspace.h), as the GPU runtime allocates it. 0 on the CPU backend.
  uint64_t workspace_bytes = 0;
  uint64_t total_bytes = 0;
  // Bytes one decode step reads: every weight except the experts a token does not select
  // (k of E), plus the whole KV cache at full context.
  uint64_t decode_bytes_per_token = 0;
  // Bytes that grow with the context, per token: KV cache plus one rope table row.
  uint64_t context_bytes_per_token = 0;
  std::vector<DeviceFit> devices;

  std::string to_json() const;
  // A human table: the totals, then one line per device.
  std::string to_text() const;
};

// Reads a module after dse-plan-memory. `config` gives the expert fraction for the estimate.
CompileReport make_report(mlir::ModuleOp planned, const importer::ModelConfig& config,
                          const std::string& precision, const std::string& kv_precision,
                          const std::string& target, int64_t max_seq_len, int64_t prefill_chunk);

// "1.23 GiB", "512.0 MiB", "12.0 KiB", "100 B".
std::string format_bytes(double bytes);

}  // namespace dse
