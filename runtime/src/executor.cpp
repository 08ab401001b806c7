// Resolving instruction lists into KernelCall arrays, and running them.
#include "dse/runtime/executor.h"

#include <string>

#include "dse/runtime/program_validation.h"

namespace dse::runtime {

ResolvedProgram ResolvedProgram::resolve(const LoadedModel& model, const EntryPointInfo& entry,
                                         std::span<void* const> slot_addresses) {
  ResolvedProgram p;
  p.name_ = entry.name;
  p.max_tokens_ = entry.max_tokens;
  p.tokens_ = static_cast<int32_t*>(slot_addresses[entry.tokens_slot]);
  p.logits_ = static_cast<float*>(slot_addresses[entry.logits_slot]);

  size_t n_views = 0;
  for (const InstructionInfo& in : entry.instructions) n_views += in.operands.size();
  // Sized up front: KernelCall::operands points into views_, which must never reallocate.
  p.views_.reserve(n_views);
  p.calls_.reserve(entry.instructions.size());
  p.fns_.reserve(entry.instructions.size());
  p.kernel_names_.reserve(entry.instructions.size());
  for (const InstructionInfo& in : entry.instructions) {
    const TensorView* operands = p.views_.data() + p.views_.size();
    for (uint32_t slot : in.operands) p.views_.push_back(make_view(model.slots()[slot], slot_addresses[slot]));
    p.calls_.push_back(make_kernel_call(operands, in.operands.size(), in.iparams.data(), in.iparams.size(),
                                        in.fparams.data(), in.fparams.size()));
    p.fns_.push_back(in.fn);
    p.kernel_names_.push_back(in.kernel);
  }
  return p;
}

Status ResolvedProgram::run(const StepInfo& step, ThreadPool* pool) const {
  for (size_t i = 0; i < calls_.size(); ++i) {
    Status st = fns_[i](calls_[i], step, pool);
    if (!st.ok()) {
      return Status(st.code(), "kernel " + std::string(kernel_names_[i]) + " (instruction " + std::to_string(i) +
                                   " of \"" + std::string(name_) + "\", " + std::to_string(step.n_tokens) +
                                   (step.batched ? std::string(" sequences") : " tokens at position " + std::to_string(step.start_pos)) +
                                   ") failed: " + st.message());
    }
  }
  return Status::Ok();
}

}  // namespace dse::runtime
