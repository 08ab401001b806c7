// Session memory: the plan, the limit check, the region allocations.
#include "dse/runtime/memory_plan.h"

#include <cstdio>
#include <cstring>
#include <new>
#include <set>

#include "dse/runtime/text_streamer.h"

namespace dse::runtime {

uint64_t host_scratch_bytes(const LoadedModel& model) {
  // history and prompt scratch: 4 bytes per context token each.
  return model.vocab_size() * 12 + model.max_seq_len() * 8 + TextStreamer::kMaxStopStringBytes +
         model.max_token_bytes() + 8;
}

MemoryPlan plan_session_memory(const LoadedModel& model) {
  MemoryPlan p;
  const RegionInfo& weights = model.region(fb::RegionKind::Weights);
  p.weights_region_bytes = weights.size;
  p.kv_cache_bytes = model.region(fb::RegionKind::KvCache).size;
  p.arena_bytes = model.region(fb::RegionKind::Arena).size;
  p.host_scratch_bytes = host_scratch_bytes(model);
  // A segment shared by several slots (tied embeddings) is mapped or decoded once.
  std::set<int64_t> seen;
  for (const SlotInfo& s : model.slots()) {
    if (s.region != fb::RegionKind::Weights || !seen.insert(s.segment).second) continue;
    const formats::SegmentInfo& seg = model.reader().segments()[size_t(s.segment)];
    if (seg.codec == fb::Codec::None) {
      p.weights_mapped_bytes += s.size;
    } else {
      p.weights_resident_bytes += (s.size + weights.alignment - 1) / weights.alignment * weights.alignment;
    }
  }
  return p;
}

std::string format_bytes(uint64_t bytes) {
  char buf[64];
  const double v = double(bytes);
  if (bytes >= (uint64_t(1) << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", v / double(uint64_t(1) << 30));
  else if (bytes >= (uint64_t(1) << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", v / double(uint64_t(1) << 20));
  else if (bytes >= 1024) std::snprintf(buf, sizeof buf, "%.2f KiB", v / 1024.0);
  else return std::to_string(bytes) + " bytes";
  return std::string(buf) + " (" + std::to_string(bytes) + " bytes)";
}

Status check_memory_limit(const MemoryPlan& plan, uint64_t limit_bytes) {
  const uint64_t total = plan.total_allocated_bytes();
  if (limit_bytes == 0 || total <= limit_bytes) return Status::Ok();
  return Status(StatusCode::out_of_memory,
                "the session needs " + format_bytes(total) + " but the memory limit is " + format_bytes(limit_bytes) +
                    ": KV cache " + format_bytes(plan.kv_cache_bytes) + ", activation arena " +
                    format_bytes(plan.arena_bytes) + ", decoded weights " + format_bytes(plan.weights_resident_bytes) +
                    ", host scratch " + format_bytes(plan.host_scratch_bytes) + " (plus " +
                    format_bytes(plan.weights_mapped_bytes) +
                    " of weights used in place from the file); raise the limit by " + format_bytes(total - limit_bytes) +
                    ", or recompile with a smaller --max-seq-len or a lower precision");
}

uint64_t available_host_memory_bytes() {
  std::FILE* f = std::fopen("/proc/meminfo", "r");
  if (f == nullptr) return 0;
  char line[256];
  uint64_t kib = 0;
  while (std::fgets(line, sizeof line, f)) {
    unsigned long long v = 0;
    if (std::sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
      kib = v;
      break;
    }
  }
  std::fclose(f);
  return kib * 1024;
}

Status check_available_memory(const MemoryPlan& plan, uint64_t available_bytes) {
  const uint64_t total = plan.total_allocated_bytes();
  if (available_bytes == 0 || total <= available_bytes) return Status::Ok();
  return Status(StatusCode::out_of_memory,
                "the session needs " + format_bytes(total) + " of host memory but the system has " +
                    format_bytes(available_bytes) + " available: KV cache " + format_bytes(plan.kv_cache_bytes) +
                    ", activation arena " + format_bytes(plan.arena_bytes) + ", decoded weights " +
                    format_bytes(plan.weights_resident_bytes) + ", host scratch " +
                    format_bytes(plan.host_scratch_bytes) +
                    "; free memory, or recompile with a smaller --max-seq-len or a lower precision");
}

void RegionBuffer::Free::operator()(uint8_t* p) const {
  ::operator delete(p, std::align_val_t(alignment));
}

Result<RegionBuffer> RegionBuffer::allocate(uint64_t bytes, uint64_t alignment, const char* what) {
  RegionBuffer b;
  if (bytes == 0) return b;
  alignment = alignment < 64 ? 64 : alignment;  // at least a cache line
  const uint64_t rounded = (bytes + alignment - 1) / alignment * alignment;
  void* p = ::operator new(size_t(rounded), std::align_val_t(alignment), std::nothrow);
  if (p == nullptr) {
    return Status(StatusCode::out_of_memory, std::string("could not allocate the ") + what + " region of " +
                                                 format_bytes(rounded) + ": the system refused the allocation; "
                                                 "close other programs or recompile with a smaller --max-seq-len");
  }
  std::memset(p, 0, size_t(rounded));
  b.data_ = std::unique_ptr<uint8_t, Free>(static_cast<uint8_t*>(p), Free{alignment});
  b.size_ = bytes;
  return b;
}

}  // namespace dse::runtime
