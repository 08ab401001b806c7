// Session memory: the plan, the limit check, the region allocations.
#include "dse/runtime/memory_plan.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <new>
#include <set>

#include "dse/runtime/gpu_backend.h"
#include "dse/runtime/text_streamer.h"

namespace dse::runtime {

namespace {

Status too_large(const std::string& what, uint64_t a, uint64_t b) {
  return Status(StatusCode::out_of_memory,
                "the session would need more than 2^64 bytes: " + what + " (" + std::to_string(a) + " + " +
                    std::to_string(b) + " bytes) does not fit 64 bits; the artifact's region sizes are absurd, "
                    "so it is damaged or hostile: recompile the model with dsc");
}

}  // namespace

bool checked_add(uint64_t a, uint64_t b, uint64_t& sum) { return !__builtin_add_overflow(a, b, &sum); }

bool checked_round_up(uint64_t bytes, uint64_t alignment, uint64_t& rounded) {
  if (alignment == 0) alignment = 1;
  uint64_t padded = 0;
  if (!checked_add(bytes, alignment - 1, padded)) return false;
  rounded = padded / alignment * alignment;
  return true;
}

namespace {
uint64_t saturating_sum(std::initializer_list<uint64_t> parts) {
  uint64_t total = 0;
  for (uint64_t part : parts) {
    if (!checked_add(total, part, total)) return UINT64_MAX;
  }
  return total;
}
}  // namespace

uint64_t MemoryPlan::total_allocated_bytes() const {
  return saturating_sum({weights_resident_bytes, kv_cache_bytes, arena_bytes, host_scratch_bytes, gpu_workspace_bytes});
}

uint64_t MemoryPlan::device_bytes() const {
  if (!on_gpu) return 0;
  return saturating_sum({weights_resident_bytes, kv_cache_bytes, arena_bytes, gpu_workspace_bytes});
}

uint64_t MemoryPlan::host_bytes() const {
  return on_gpu && !gpu_integrated ? host_scratch_bytes : total_allocated_bytes();
}

uint64_t host_scratch_bytes(const LoadedModel& model) {
  // history and prompt scratch: 4 bytes per context token each. vocab_size and max_seq_len are
  // below 2^31 (checked by the loader), so this cannot overflow.
  return model.vocab_size() * 12 + model.max_seq_len() * 8 + TextStreamer::kMaxStopStringBytes +
         TextStreamer::kExpansion * model.max_token_bytes() + 8;
}

Result<MemoryPlan> plan_session_memory(const LoadedModel& model) {
  MemoryPlan p;
  const RegionInfo& weights = model.region(fb::RegionKind::Weights);
  p.weights_region_bytes = weights.size;
  p.kv_cache_bytes = model.region(fb::RegionKind::KvCache).size;
  p.arena_bytes = model.region(fb::RegionKind::Arena).size;
  p.host_scratch_bytes = host_scratch_bytes(model);
  if (model.backend() != targets::Backend::cpu) {
    // A discrete GPU (the default; the backend revises this for an integrated one): the whole
    // weights region is copied to the device at its planned offsets; the host keeps pinned
    // logits (4 bytes per vocabulary entry) and token staging (4 per prefill token).
    p.on_gpu = true;
    p.weights_resident_bytes = weights.size;
    p.gpu_workspace_bytes = gpu_workspace_bytes(model);
    p.host_scratch_bytes += model.vocab_size() * 4 + model.prefill().max_tokens * 4 + 256;
    const uint64_t parts[] = {p.weights_resident_bytes, p.kv_cache_bytes, p.arena_bytes, p.gpu_workspace_bytes};
    uint64_t total = 0;
    for (uint64_t part : parts) {
      uint64_t rounded = 0;
      if (!checked_round_up(part, 4096, rounded)) return too_large("a device region rounded to 4 KiB", part, 4095);
      if (!checked_add(total, part, total)) return too_large("the device total", total, part);
    }
    return p;
  }
  // A segment shared by several slots (tied embeddings) is mapped or decoded once.
  std::set<int64_t> seen;
  for (const SlotInfo& s : model.slots()) {
    if (s.region != fb::RegionKind::Weights || !seen.insert(s.segment).second) continue;
    const formats::SegmentInfo& seg = model.reader().segments()[size_t(s.segment)];
    uint64_t rounded = 0;
    if (seg.codec == fb::Codec::None) {
      if (!checked_add(p.weights_mapped_bytes, s.size, p.weights_mapped_bytes)) {
        return too_large("the mapped weights", p.weights_mapped_bytes, s.size);
      }
    } else if (!checked_round_up(s.size, weights.alignment, rounded) ||
               !checked_add(p.weights_resident_bytes, rounded, p.weights_resident_bytes)) {
      return too_large("the decoded weights", p.weights_resident_bytes, s.size);
    }
  }
  // Each region is allocated rounded up to its alignment (at least 64 bytes): the total must
  // cover that too, and no rounding may wrap.
  const uint64_t parts[] = {p.weights_resident_bytes, p.kv_cache_bytes, p.arena_bytes, p.host_scratch_bytes};
  const char* names[] = {"the decoded weights", "the KV cache", "the activation arena", "the host scratch"};
  uint64_t total = 0;
  for (size_t i = 0; i < 4; ++i) {
    uint64_t rounded = 0;
    if (!checked_round_up(parts[i], 4096, rounded)) return too_large(names[i] + std::string(" rounded to 4 KiB"), parts[i], 4095);
    if (!checked_add(total, parts[i], total)) return too_large(std::string("the total with ") + names[i], total, parts[i]);
  }
  return p;
}

Status plan_integrated_gpu_weights(const LoadedModel& model, MemoryPlan& plan) {
  const RegionInfo& weights = model.region(fb::RegionKind::Weights);
  uint64_t mapped = 0, resident = 0;
  std::set<int64_t> seen;
  for (const SlotInfo& s : model.slots()) {
    if (s.region != fb::RegionKind::Weights || !seen.insert(s.segment).second) continue;
    uint64_t rounded = 0;
    if (model.reader().segments()[size_t(s.segment)].codec == fb::Codec::None) {
      if (!checked_add(mapped, s.size, mapped)) return too_large("the mapped weights", mapped, s.size);
    } else if (!checked_round_up(s.size, weights.alignment, rounded) || !checked_add(resident, rounded, resident)) {
      return too_large("the decoded weights", resident, s.size);
    }
  }
  plan.on_gpu = true;
  plan.gpu_integrated = true;
  plan.weights_mapped_bytes = mapped;
  plan.weights_resident_bytes = resident;
  return Status::Ok();
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
  const uint64_t total = plan.host_bytes();
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
  uint64_t rounded = 0;
  // No size near 2^64 may wrap to a small allocation that the session would then overrun.
  if (!checked_round_up(bytes, alignment, rounded) || rounded > uint64_t(PTRDIFF_MAX)) {
    return Status(StatusCode::out_of_memory, std::string("the ") + what + " region of " + std::to_string(bytes) +
                                                 " bytes (alignment " + std::to_string(alignment) +
                                                 ") is larger than any address space; the artifact is damaged "
                                                 "or hostile: recompile the model with dsc");
  }
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
