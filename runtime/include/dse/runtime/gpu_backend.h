// The device side of a session whose artifact targets a GPU: device regions, the instruction
// lists resolved into GPU launchers, graph replay of the decode step, device-side greedy sampling.
// The Session keeps the conversation (history, stop conditions, text) and drives this.
//
// Built with DSE_ENABLE_CUDA or DSE_ENABLE_HIP (runtime/src/gpu/gpu_backend.cpp, one source for
// both); other builds refuse GPU artifacts when they are opened, so create_gpu_backend is never
// reached there. A build has one GPU backend: CUDA or HIP, never both.
#pragma once

#include <cstdint>
#include <memory>

#include "dse/runtime/loaded_model.h"
#include "dse/runtime/memory_plan.h"
#include "dse/status.h"
#include "dse/targets/target_registry.h"

namespace dse::runtime {

class GpuBackend {
 public:
  enum class Entry { prefill, decode };

  virtual ~GpuBackend() = default;

  // Token capacity of an entry point (the prefill chunk; the decode entry's is the artifact's
  // max_batch: one row per sequence).
  virtual uint64_t max_tokens(Entry entry) const = 0;

  // Cache slots of the artifact: its max_batch (dsc --max-batch), 1 for one sequence. Every step
  // passed to run() must have step.slots == slots().
  virtual uint64_t slots() const = 0;

  // Copies step.n_tokens ids (1..max_tokens) to the entry's token slot, copies the whole `step`
  // (kernel_abi.h: one sequence in step.slot at start_pos.., or batched decode with row t in slot
  // t at positions[t]) into the device step buffer, runs the entry (decode: one graph replay, valid
  // for any n_tokens up to the capacity) and, for prefill, waits. Allocates nothing. Errors:
  // invalid_argument for n_tokens outside [1, max_tokens] or slots != slots(); the first run-time
  // error a kernel recorded on the device (same words as the CPU kernels); a CUDA / HIP error
  // naming the call. Decode errors surface from the argmax or logits copy that follows.
  virtual Status run(Entry entry, const int32_t* tokens, const StepInfo& step) = 0;

  // Greedy sampling on the device: the id of the largest logit of row 0 of the last run (ties to
  // the lower id, as the CPU sampler). Only the 4-byte id crosses the bus.
  virtual Result<int32_t> argmax() = 0;

  // Greedy sampling of each of the first n_rows rows of the last run's logits (decode: [max_batch,
  // vocab], one row per batched sequence; prefill: [1, vocab]) into ids[0, n_rows): one kernel
  // launch for all rows and one device-to-host copy of n_rows ids. Errors: invalid_argument when
  // n_rows is 0 or more than the last run's logits rows; the step's run-time error, as argmax().
  virtual Status argmax_rows(uint64_t n_rows, int32_t* ids) = 0;

  // Copies the first n_rows rows (n_rows * vocab_size floats) of the last run's logits into pinned
  // host memory the backend owns (sized at creation for the decode entry's rows; valid until the
  // next run) and returns it: for sampling modes other than greedy and for forward(). Errors:
  // invalid_argument when n_rows is 0 or more than the last run's logits rows.
  virtual Result<float*> logits_to_host(uint64_t n_rows = 1) = 0;

  // Whether the entry point was captured as a CUDA / HIP graph at creation (else it runs call by call).
  virtual bool captured_as_graph(Entry entry) const = 0;
};

// True when this build of libdse has a GPU backend (DSE_ENABLE_CUDA or DSE_ENABLE_HIP).
bool gpu_backend_built();

// Which one: Backend::cuda or Backend::hip; Backend::cpu when there is none. Artifacts for the
// other GPU backend are refused when opened.
targets::Backend gpu_backend_kind();

// Bytes of kernel scratch the GPU launchers of `model`'s instructions need at most (one region
// reused by every call: calls run in order on one stream), plus the control block
// (gpu::kGpuControlBlockBytes); 0 for a CPU artifact. From the artifact's shapes and target API
// (dse/gpu/workspace.h), in every build: dsc's memory plan holds the same number.
uint64_t gpu_workspace_bytes(const LoadedModel& model);

// Picks the device (CUDA_VISIBLE_DEVICES or HIP_VISIBLE_DEVICES / device 0), checks it against
// the artifact's target (NVIDIA: compute capability; AMD: gcnArchName) and features, checks
// device memory, takes every region in one cudaMalloc (hipMalloc) each, loads the
// weights once and resolves and captures the programs. `plan` is updated with what was actually
// taken (weights used in place on an integrated GPU). Errors: target_mismatch naming the device
// and the target, out_of_memory with the numbers, unsupported for a kernel this GPU build lacks.
Result<std::unique_ptr<GpuBackend>> create_gpu_backend(const LoadedModel& model, MemoryPlan& plan,
                                                       uint64_t memory_limit_bytes);

}  // namespace dse::runtime
