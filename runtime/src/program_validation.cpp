// Loader validation of regions, slots, entry points and instructions (see program_validation.h).
#include "dse/runtime/program_validation.h"

#include <string>

#include "dse/cpu/kernel_registry.h"
#include "dse/cpu/weight_format.h"

namespace dse::runtime {

namespace {

const char* region_name(fb::RegionKind kind) {
  switch (kind) {
    case fb::RegionKind::Weights: return "weights";
    case fb::RegionKind::KvCache: return "kv_cache";
    case fb::RegionKind::Arena: return "arena";
  }
  return "unknown";
}

Status corrupt(const std::string& message) {
  return Status(StatusCode::corrupt_data, message + "; the artifact is damaged or was written by a broken compiler: recompile it with dsc");
}

std::string slot_label(const SlotInfo& s, size_t index) {
  return "slot " + std::to_string(index) + " (\"" + std::string(s.name) + "\")";
}

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

TensorView make_view(const SlotInfo& slot, void* data) {
  TensorView v;
  v.data = data;
  v.bytes = slot.size;
  v.dtype = slot.dtype;
  v.rank = slot.rank;
  for (int i = 0; i < kMaxRank; ++i) v.shape[i] = slot.shape[i];
  v.group_size = slot.group_size;
  return v;
}

Status decode_regions(const fb::Artifact& artifact, std::array<RegionInfo, kRegionCount>& out) {
  out = {};
  if (artifact.regions() == nullptr) return corrupt("the artifact has no region table");
  for (const fb::Region* r : *artifact.regions()) {
    const auto kind = size_t(r->kind());
    if (kind >= kRegionCount) {
      return corrupt("a region has kind " + std::to_string(kind) + ", expected 0 (weights), 1 (kv_cache) or 2 (arena)");
    }
    if (out[kind].present) return corrupt(std::string("the region ") + region_name(r->kind()) + " is declared twice");
    const uint64_t alignment = r->alignment() == 0 ? 1 : r->alignment();
    if (!is_power_of_two(alignment)) {
      return corrupt(std::string("the region ") + region_name(r->kind()) + " has alignment " +
                     std::to_string(alignment) + ", expected a power of two");
    }
    out[kind] = {true, r->size(), alignment};
  }
  return Status::Ok();
}

Status decode_slots(const fb::Artifact& artifact, const std::array<RegionInfo, kRegionCount>& regions,
                    const std::vector<formats::SegmentInfo>& segments, std::vector<SlotInfo>& out) {
  out.clear();
  if (artifact.slots() == nullptr || artifact.slots()->size() == 0) return corrupt("the artifact has no slots");
  out.reserve(artifact.slots()->size());
  for (flatbuffers::uoffset_t i = 0; i < artifact.slots()->size(); ++i) {
    const fb::Slot* fs = artifact.slots()->Get(i);
    SlotInfo s;
    s.name = fs->name() ? std::string_view(fs->name()->c_str(), fs->name()->size()) : std::string_view();
    s.region = fs->region();
    s.offset = fs->offset();
    s.size = fs->size();
    s.segment = fs->segment();
    s.group_size = fs->group_size();
    const std::string label = slot_label(s, i);

    const auto kind = size_t(s.region);
    if (kind >= kRegionCount) return corrupt(label + " names region kind " + std::to_string(kind) + ", which does not exist");
    const RegionInfo& region = regions[kind];
    if (!region.present) {
      return corrupt(label + " lies in region " + region_name(s.region) + ", which the artifact does not declare");
    }
    if (s.offset % region.alignment != 0) {
      return corrupt(label + " starts at offset " + std::to_string(s.offset) + ", not a multiple of the " +
                     region_name(s.region) + " alignment " + std::to_string(region.alignment));
    }
    if (s.offset > region.size || s.size > region.size - s.offset) {
      return corrupt(label + " covers bytes [" + std::to_string(s.offset) + ", " + std::to_string(s.offset + s.size) +
                     ") of region " + region_name(s.region) + ", which has only " + std::to_string(region.size) + " bytes");
    }
    if (uint8_t(fs->dtype()) > uint8_t(fb::DType::MAX)) {
      return corrupt(label + " has dtype " + std::to_string(int(fs->dtype())) + ", which this build does not know");
    }
    s.dtype = DType(uint8_t(fs->dtype()));
    const auto* shape = fs->shape();
    if (shape == nullptr || shape->size() == 0 || shape->size() > size_t(kMaxRank)) {
      return corrupt(label + " has rank " + std::to_string(shape ? shape->size() : 0) + ", expected 1 to " +
                     std::to_string(kMaxRank));
    }
    s.rank = int32_t(shape->size());
    int64_t elements = 1;
    for (int d = 0; d < s.rank; ++d) {
      const int64_t dim = shape->Get(flatbuffers::uoffset_t(d));
      if (dim < 0 || dim > (int64_t(1) << 40)) {
        return corrupt(label + " has dimension " + std::to_string(d) + " = " + std::to_string(dim) + ", expected 0 to 2^40");
      }
      s.shape[d] = dim;
      if (dim != 0 && elements > (int64_t(1) << 50) / dim) return corrupt(label + " has more than 2^50 elements");
      elements *= dim;
    }
    const int64_t expected = cpu::dtype_bytes(s.dtype, elements);
    if (expected < 0 || uint64_t(expected) != s.size) {
      return corrupt(label + " has size " + std::to_string(s.size) + " bytes, but its shape holds " +
                     std::to_string(elements) + " " + std::string(cpu::dtype_name(s.dtype)) + " elements = " +
                     (expected < 0 ? std::string("an invalid count") : std::to_string(expected) + " bytes"));
    }
    if (s.region == fb::RegionKind::Weights) {
      if (s.segment < 0 || uint64_t(s.segment) >= segments.size()) {
        return corrupt(label + " is a weight slot with segment " + std::to_string(s.segment) + ", expected 0 to " +
                       std::to_string(int64_t(segments.size()) - 1));
      }
      if (segments[size_t(s.segment)].raw_size != s.size) {
        return corrupt(label + " has " + std::to_string(s.size) + " bytes but its segment " + std::to_string(s.segment) +
                       " decodes to " + std::to_string(segments[size_t(s.segment)].raw_size));
      }
    } else if (s.segment != -1) {
      return corrupt(label + " lies in region " + region_name(s.region) + " but names segment " +
                     std::to_string(s.segment) + "; only weight slots are filled from segments");
    }
    out.push_back(s);
  }
  return Status::Ok();
}

namespace {

// Where a slot would be if every region started at its own far-apart base: overlapping slots
// get overlapping fake ranges, so validate_cpu_call's aliasing checks see the real layout.
void* planned_address(const SlotInfo& s) {
  const uint64_t base = (uint64_t(s.region) + 1) << 44;
  return reinterpret_cast<void*>(uintptr_t(base + s.offset));
}

Status check_io_slot(const char* what, std::string_view entry, uint32_t index, DType dtype, uint64_t min_elements,
                     const std::vector<SlotInfo>& slots) {
  const std::string label = "entry point \"" + std::string(entry) + "\" " + what;
  if (index >= slots.size()) {
    return corrupt(label + " is slot " + std::to_string(index) + ", but there are only " + std::to_string(slots.size()) + " slots");
  }
  const SlotInfo& s = slots[index];
  const int64_t elements = cpu::dtype_bytes(s.dtype, 1) > 0 ? int64_t(s.size) / cpu::dtype_bytes(s.dtype, 1) : 0;
  if (s.dtype != dtype || uint64_t(elements) < min_elements || s.region == fb::RegionKind::Weights) {
    return corrupt(label + " is " + slot_label(s, index) + " (" + std::string(cpu::dtype_name(s.dtype)) + ", " +
                   std::to_string(elements) + " elements, region " + region_name(s.region) + "), expected " +
                   std::string(cpu::dtype_name(dtype)) + " with at least " + std::to_string(min_elements) +
                   " elements outside the weights");
  }
  return Status::Ok();
}

bool writes_operand(cpu::OperandRole role) {
  return role == cpu::OperandRole::output || role == cpu::OperandRole::inout || role == cpu::OperandRole::cache;
}

}  // namespace

Status decode_entry_point(const fb::Artifact& artifact, std::string_view name, uint64_t vocab_size,
                          const std::vector<SlotInfo>& slots, EntryPointInfo& out) {
  const fb::EntryPoint* ep = nullptr;
  if (artifact.entry_points()) {
    for (const fb::EntryPoint* e : *artifact.entry_points()) {
      if (e->name() && e->name()->string_view() == name) ep = e;
    }
  }
  if (ep == nullptr) return corrupt("the artifact has no entry point \"" + std::string(name) + "\"");
  out = {};
  out.name = name;
  out.max_tokens = ep->max_tokens();
  out.tokens_slot = ep->tokens_slot();
  out.logits_slot = ep->logits_slot();
  if (out.max_tokens == 0 || out.max_tokens > (uint64_t(1) << 31)) {
    return corrupt("entry point \"" + std::string(name) + "\" has max_tokens " + std::to_string(out.max_tokens) +
                   ", expected 1 to 2^31");
  }
  DSE_RETURN_IF_ERROR(check_io_slot("tokens slot", name, out.tokens_slot, DType::i32, out.max_tokens, slots));
  DSE_RETURN_IF_ERROR(check_io_slot("logits slot", name, out.logits_slot, DType::f32, vocab_size, slots));

  if (ep->instructions() == nullptr || ep->instructions()->size() == 0) {
    return corrupt("entry point \"" + std::string(name) + "\" has no instructions");
  }
  std::vector<TensorView> views;
  out.instructions.reserve(ep->instructions()->size());
  for (flatbuffers::uoffset_t i = 0; i < ep->instructions()->size(); ++i) {
    const fb::Instruction* in = ep->instructions()->Get(i);
    const std::string kernel = in->kernel() ? in->kernel()->str() : std::string();
    const std::string label = "entry point \"" + std::string(name) + "\" instruction " + std::to_string(i) +
                              " (" + (kernel.empty() ? std::string("no kernel name") : kernel) + ")";
    const cpu::CpuKernelInfo* info = cpu::find_cpu_kernel(kernel);
    if (info == nullptr) {
      return Status(StatusCode::unsupported,
                    label + ": this build of libdse has no CPU kernel \"" + kernel +
                        "\"; update libdse or compile the model with the dsc of this release");
    }
    InstructionInfo ii;
    ii.kernel = info->name;
    ii.fn = info->fn;
    if (in->operands()) ii.operands = {in->operands()->data(), in->operands()->size()};
    if (in->iparams()) ii.iparams = {in->iparams()->data(), in->iparams()->size()};
    if (in->fparams()) ii.fparams = {in->fparams()->data(), in->fparams()->size()};

    views.clear();
    for (size_t k = 0; k < ii.operands.size(); ++k) {
      const uint32_t slot = ii.operands[k];
      if (slot >= slots.size()) {
        return corrupt(label + ": operand " + std::to_string(k) + " is slot " + std::to_string(slot) +
                       ", but there are only " + std::to_string(slots.size()) + " slots");
      }
      views.push_back(make_view(slots[slot], planned_address(slots[slot])));
    }
    const KernelCall call = make_kernel_call(views.data(), views.size(), ii.iparams.data(), ii.iparams.size(),
                                             ii.fparams.data(), ii.fparams.size());
    Status st = cpu::validate_cpu_call(*info, call);
    if (!st.ok()) return Status(StatusCode::corrupt_data, label + ": " + st.message());

    // Weights are used in place from a read-only mapping: a kernel that writes one would crash.
    size_t k = 0;
    for (const cpu::OperandSpec& spec : info->operands) {
      if (!cpu::operand_present(spec, call, uint32_t(k))) continue;
      if (k >= ii.operands.size()) break;
      const SlotInfo& s = slots[ii.operands[k]];
      if (writes_operand(spec.role) && s.region == fb::RegionKind::Weights) {
        return corrupt(label + ": operand " + std::to_string(k) + " (" + spec.name + ") is written by the kernel but is " +
                       slot_label(s, ii.operands[k]) + " in the read-only weights region");
      }
      ++k;
    }
    out.instructions.push_back(ii);
  }
  return Status::Ok();
}

}  // namespace dse::runtime
