// The executor: an entry point's instruction list resolved once, at session creation, into an
// array of KernelCalls on fixed addresses, so that a step only walks that array.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dse/cpu/thread_pool.h"
#include "dse/runtime/loaded_model.h"
#include "dse/status.h"
#include "dse/targets/kernel_abi.h"

namespace dse::runtime {

class ResolvedProgram {
 public:
  // Builds the TensorViews and KernelCalls of `entry` on `slot_addresses` (one per slot, from the
  // session's regions and the mapping). The pointers into the artifact (iparams, fparams) stay
  // valid while the model lives.
  static ResolvedProgram resolve(const LoadedModel& model, const EntryPointInfo& entry,
                                 std::span<void* const> slot_addresses);

  uint64_t max_tokens() const { return max_tokens_; }
  // Input: the token ids of the next call go here (max_tokens of them).
  int32_t* tokens() const { return tokens_; }
  // Output: vocab_size logits of the last token of the previous call (prefill), or of each of its
  // rows (decode: one row per sequence of a batch).
  float* logits() const { return logits_; }

  // Runs every kernel in order on step.n_tokens tokens (1..max_tokens) at the step's positions.
  // Allocates nothing unless a kernel fails (the message names the kernel and the instruction).
  Status run(const StepInfo& step, ThreadPool* pool) const;

 private:
  std::string_view name_;
  std::vector<TensorView> views_;  // every operand of every call, in order
  std::vector<KernelCall> calls_;
  std::vector<CpuKernelFn> fns_;
  std::vector<std::string_view> kernel_names_;
  uint64_t max_tokens_ = 0;
  int32_t* tokens_ = nullptr;
  float* logits_ = nullptr;
};

}  // namespace dse::runtime
