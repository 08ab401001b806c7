// --memory-budget / --device: parse the limit, compare it with the report's planned total, and
// say which flags would shrink the plan enough to try.
#include "MemoryLimit.h"

#include <cmath>

#include "llvm/ADT/StringExtras.h"

#include "dse/targets/target_registry.h"

namespace dse::dsc {

Result<uint64_t> parse_byte_size(llvm::StringRef text, llvm::StringRef flag) {
  auto bad = [&]() {
    return Status(
        StatusCode::invalid_argument,
        (flag + " '" + text +
         "' is not a size: expected a number of bytes with an optional unit, e.g. 6GiB, 512MiB, 8GB "
         "or 4294967296 (KiB/MiB/GiB/TiB and K/M/G/T are powers of 1024, KB/MB/GB/TB of 1000)")
            .str());
  };
  llvm::StringRef s = text.trim();
  size_t digits = 0;
  while (digits < s.size() && (llvm::isDigit(s[digits]) || s[digits] == '.')) ++digits;
  double value = 0;
  if (digits == 0 || s.take_front(digits).getAsDouble(value)) return bad();
  std::string unit = s.drop_front(digits).trim().lower();
  double scale = 0;
  if (unit.empty() || unit == "b") scale = 1;
  for (auto [name, exponent] : {std::pair{"k", 1}, {"m", 2}, {"g", 3}, {"t", 4}}) {
    if (unit == name || unit == std::string(name) + "ib") scale = std::pow(1024.0, exponent);
    if (unit == std::string(name) + "b") scale = std::pow(1000.0, exponent);
  }
  if (scale == 0) return bad();
  const double bytes = value * scale;
  if (!(bytes >= 1) || bytes > 1.8e19) return bad();
  return uint64_t(bytes);
}

Result<std::vector<MemoryLimit>> memory_limits(const std::string& budget, const std::string& device) {
  std::vector<MemoryLimit> limits;
  if (!budget.empty()) {
    Result<uint64_t> bytes = parse_byte_size(budget, "--memory-budget");
    if (!bytes.ok()) return bytes.status();
    limits.push_back({*bytes, "--memory-budget is " + format_bytes(double(*bytes))});
  }
  if (!device.empty()) {
    Result<const targets::DeviceDesc*> d = targets::find_device(device);
    if (!d.ok()) return d.status();
    limits.push_back({(*d)->usable_memory_bytes,
                      "--device " + std::string((*d)->id) + " (" + std::string((*d)->name) + ") has " +
                          format_bytes(double((*d)->usable_memory_bytes)) + " usable"});
  }
  return limits;
}

std::string check_memory_fit(const CompileReport& r, const std::vector<MemoryLimit>& limits) {
  for (const MemoryLimit& limit : limits) {
    if (r.total_bytes <= limit.bytes) continue;
    std::vector<std::string> tries;
    if (r.precision != "int4") tries.push_back("--precision int4");
    if (r.kv_precision == "fp32") tries.push_back("--kv-precision fp16");
    // The context is the one part that scales freely: the longest power of two whose KV cache
    // and rope table fit beside the fixed part of the plan.
    const uint64_t context_bytes = r.context_bytes_per_token * uint64_t(r.max_seq_len);
    const uint64_t fixed = r.total_bytes > context_bytes ? r.total_bytes - context_bytes : 0;
    if (r.context_bytes_per_token > 0 && limit.bytes > fixed) {
      int64_t fits = int64_t((limit.bytes - fixed) / r.context_bytes_per_token);
      int64_t pow2 = 1;
      while (pow2 * 2 <= fits) pow2 *= 2;
      if (fits >= 1 && pow2 < r.max_seq_len) tries.push_back("--max-seq-len " + std::to_string(pow2));
    }
    // The arena grows with the prefill chunk; worth naming only when it could cover the excess.
    const uint64_t excess = r.total_bytes - limit.bytes;
    if (r.prefill_chunk > 64 && r.arena_bytes / 8 * 7 >= excess)
      tries.push_back("a smaller --prefill-chunk");
    std::string message = "the plan needs " + format_bytes(double(r.total_bytes)) + " (weights " +
                          format_bytes(double(r.weights_bytes)) + ", kv cache " +
                          format_bytes(double(r.kv_cache_bytes)) + ", arena " +
                          format_bytes(double(r.arena_bytes)) + ", workspace " +
                          format_bytes(double(r.workspace_bytes)) + "), " + limit.description;
    if (tries.empty()) return message + ": use a device with more memory";
    message += ": try ";
    for (size_t i = 0; i < tries.size(); ++i)
      message += (i == 0 ? "" : i + 1 == tries.size() ? " or " : ", ") + tries[i];
    return message;
  }
  return "";
}

}  // namespace dse::dsc
