// What a session takes, computed from the artifact before anything is allocated, and the one
// aligned allocation per region that a session then makes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dse/runtime/loaded_model.h"
#include "dse/status.h"

namespace dse::runtime {

// CPU artifacts: everything is host memory. GPU artifacts: the weights (resident part), KV cache,
// arena and workspace are device memory, taken with one cudaMalloc each; on an integrated GPU
// (Jetson) device memory is system memory, and uncompressed weights are used in place from the
// file mapping (weights_mapped_bytes: the memory saved by not copying them).
struct MemoryPlan {
  uint64_t weights_region_bytes = 0;    // as planned by the compiler
  uint64_t weights_mapped_bytes = 0;    // uncompressed segments, used in place from the mapping
  uint64_t weights_resident_bytes = 0;  // CPU: zstd segments decoded into memory the session owns;
                                        // GPU: weights copied into device memory
  uint64_t kv_cache_bytes = 0;
  uint64_t arena_bytes = 0;
  uint64_t host_scratch_bytes = 0;      // sampler, token history, text buffer (GPU: also the pinned
                                        // logits and token staging buffers)
  bool on_gpu = false;
  bool gpu_integrated = false;          // the GPU shares system memory (set by the GPU backend)
  uint64_t gpu_workspace_bytes = 0;     // GPU: kernel scratch + the step / error / token block
  // Device memory of a GPU session (0 for the CPU): resident weights, KV cache, arena, workspace.
  uint64_t device_bytes() const;
  // Host memory the session takes: everything for the CPU and integrated GPUs, only the host
  // scratch for a discrete GPU. What MemAvailable is compared with.
  uint64_t host_bytes() const;
  // What the memory limit and the available memory are compared with. Saturates at 2^64 - 1
  // instead of wrapping, so absurd sizes can never sum to a small total that passes the checks
  // (plan_session_memory also refuses them outright).
  uint64_t total_allocated_bytes() const;
};

// a + b, or false when the sum does not fit 64 bits.
bool checked_add(uint64_t a, uint64_t b, uint64_t& sum);
// `bytes` rounded up to a multiple of `alignment` (a power of two), or false on overflow.
bool checked_round_up(uint64_t bytes, uint64_t alignment, uint64_t& rounded);

// Host bytes besides the regions: sampler scratch (12 per vocabulary entry), the token history
// and the prompt scratch (4 + 4 per context token), the text streamer.
uint64_t host_scratch_bytes(const LoadedModel& model);

// An integrated GPU (Jetson) that can read the file mapping: uncompressed weights are used in
// place (weights_mapped_bytes, the memory saved), only zstd segments get device memory, packed at
// the region's alignment (weights_resident_bytes); sets on_gpu and gpu_integrated. Errors:
// out_of_memory when the sizes do not fit 64 bits.
Status plan_integrated_gpu_weights(const LoadedModel& model, MemoryPlan& plan);

// Errors: out_of_memory when a region, the decoded weights or the total do not fit 64 bits (only
// a hostile or damaged artifact gets there): sizes are summed with checked arithmetic so that a
// wrapped total can never pass the limit checks and become a tiny allocation.
Result<MemoryPlan> plan_session_memory(const LoadedModel& model);

// out_of_memory, with every number, when the plan needs more than `limit_bytes` (0: no limit).
Status check_memory_limit(const MemoryPlan& plan, uint64_t limit_bytes);

// Host memory the system can still give (Linux: MemAvailable of /proc/meminfo), or 0 when
// unknown. Checked before allocating so that a session that cannot fit fails with the numbers
// instead of being killed by the OOM killer mid-generation.
uint64_t available_host_memory_bytes();

// out_of_memory, with the numbers, when the plan's host_bytes() exceed `available_bytes` (0: unknown).
Status check_available_memory(const MemoryPlan& plan, uint64_t available_bytes);

// One zeroed, aligned host allocation. Empty (null data) for zero bytes.
class RegionBuffer {
 public:
  // Errors: out_of_memory naming `what` and the size, also when the size rounded up to the
  // alignment overflows or exceeds what the address space can hold.
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
