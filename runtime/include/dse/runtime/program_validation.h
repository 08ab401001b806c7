// The loader's checks of an artifact's program (regions, slots, entry points, instructions)
// against this build's CPU kernels, run at open so that no kernel ever sees a bad call.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "dse/formats/artifact_reader.h"
#include "dse/runtime/loaded_model.h"
#include "dse/status.h"

namespace dse::runtime {

// Decodes and checks Artifact.regions: each kind at most once, alignment a power of two.
Status decode_regions(const fb::Artifact& artifact, std::array<RegionInfo, kRegionCount>& out);

// Decodes and checks Artifact.slots: the region exists, the slot lies inside it at an aligned
// offset, size == shape x dtype, weight slots name a segment whose raw_size is the slot size.
Status decode_slots(const fb::Artifact& artifact, const std::array<RegionInfo, kRegionCount>& regions,
                    const std::vector<formats::SegmentInfo>& segments, std::vector<SlotInfo>& out);

// Decodes the entry point `name` and checks it: tokens slot I32 with room for max_tokens,
// logits slot F32 with vocab_size values, neither in the read-only weights; every instruction's
// kernel is in this build, its operands are slots, validate_cpu_call passes on the planned
// layout, and no kernel writes into a weight slot.
Status decode_entry_point(const fb::Artifact& artifact, std::string_view name, uint64_t vocab_size,
                          const std::vector<SlotInfo>& slots, EntryPointInfo& out);

// A TensorView of `slot` at address `data`.
TensorView make_view(const SlotInfo& slot, void* data);

}  // namespace dse::runtime
