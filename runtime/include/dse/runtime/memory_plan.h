// What a session takes, computed from the artifact before anything is allocated, and the one
// aligned allocation per region that a session then makes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dse/runtime/loaded_model.h"
#include "dse/status.h"

namespace dse::runtime {

struct MemoryPlan {
  uint64_t weights_region_bytes = 0;    // as planned by the compiler
  uint64_t weights_mapped_bytes = 0;    // uncompressed segments, used in place from the mapping
  uint64_t weights_resident_bytes = 0;  // zstd segments, decoded into memory the session owns
  uint64_t kv_cache_bytes = 0;
  uint64_t arena_bytes = 0;
  uint64_t host_scratch_bytes = 0;      // sampler, token history, text buffer
  uint64_t total_allocated_bytes() const {
    return weights_resident_bytes + kv_cache_bytes + arena_bytes + host_scratch_bytes;
  }
};

// Host bytes besides the regions: sampler scratch (12 per vocabulary entry), the token history
// and the prompt scratch (4 + 4 per context token), the text streamer.
uint64_t host_scratch_bytes(const LoadedModel& model);

MemoryPlan plan_session_memory(const LoadedModel& model);

// out_of_memory, with every number, when the plan needs more than `limit_bytes` (0: no limit).
Status check_memory_limit(const MemoryPlan& plan, uint64_t limit_bytes);

// Host memory the system can still give (Linux: MemAvailable of /proc/meminfo), or 0 when
// unknown. Checked before allocating so that a session that cannot fit fails with the numbers
// instead of being killed by the OOM killer mid-generation.
uint64_t available_host_memory_bytes();

// out_of_memory, with the numbers, when the plan needs more than `available_bytes` (0: unknown).
Status check_available_memory(const MemoryPlan& plan, uint64_t available_bytes);

// One zeroed, aligned host allocation. Empty (null data) for zero bytes.
class RegionBuffer {
 public:
  // Errors: out_of_memory naming `what` and the size.
  static Result<RegionBuffer> allocate(uint64_t bytes, uint64_t alignment, const char* what);
  uint8_t* data() const { return data_.get(); }
  uint64_t size() const { return size_; }

 private:
  struct Free {
    uint64_t alignment;
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_{nullptr, Free{1}};
  uint64_t size_ = 0;
};

// "1.50 GiB (1610612736 bytes)": sizes in messages.
std::string format_bytes(uint64_t bytes);

}  // namespace dse::runtime
