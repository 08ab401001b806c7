// The memory a compile may plan (--memory-budget BYTES, --device NAME) and the diagnostic when
// the planned total does not fit it, with the flags that would make it smaller.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "llvm/ADT/StringRef.h"

#include "dse/compiler/Emit/CompileReport.h"
#include "dse/status.h"

namespace dse::dsc {

// "6GiB", "512MiB", "1.5GB", "4096", "8g": KiB/MiB/GiB/TiB and bare K/M/G/T are powers of 1024,
// KB/MB/GB/TB powers of 1000, no suffix or B is bytes; case and a space before the unit are
// ignored. Errors: invalid_argument naming `flag`, the text and the accepted forms.
Result<uint64_t> parse_byte_size(llvm::StringRef text, llvm::StringRef flag);

struct MemoryLimit {
  uint64_t bytes = 0;
  std::string description;  // "--memory-budget is 3.90 GiB", "--device orin-nano-8gb (...) has 5.85 GiB usable"
};

// The limits the flags ask for (none when both are empty). Errors: a bad size, an unknown device.
Result<std::vector<MemoryLimit>> memory_limits(const std::string& budget, const std::string& device);

// "" when the planned total fits every limit; otherwise the message for the first one exceeded:
// "needs 5.20 GiB, --memory-budget is 3.90 GiB: try --precision int4 or --max-seq-len 2048".
std::string check_memory_fit(const CompileReport& report, const std::vector<MemoryLimit>& limits);

}  // namespace dse::dsc
