// The GPU calling convention: what a GPU kernel launcher receives besides the resolved call
// (a device-resident step, an error record, scratch), and the launcher function type.
//
// Why the step lives on the device: the executor captures a decode step once as a CUDA/HIP graph
// and replays it for every token. A graph freezes kernel arguments, so nothing that changes from
// one step to the next (n_tokens, start_pos, slot, the batched rows' positions) may be a kernel
// argument. Every GPU kernel instead reads the StepInfo from `d_step` when it runs; grids are
// sized from the static capacities the compiler planned (token capacity = shape[0] of the
// activation, cache capacity = shape[0] of the cache, cut into StepInfo::slots equal slots), and
// blocks past the current rows or positions exit early. Before each replay the
// executor writes the new StepInfo into d_step (cudaMemcpyAsync on the same stream, or a kernel).
//
// Why errors go to a device record: a kernel cannot return a Status without a synchronisation,
// which a replayed graph must not have. Run-time errors (a token id outside the vocabulary, a
// position past the cache, an expert id outside [0, E)) are written to `d_error` by the first
// kernel that sees one, that kernel writes none of its outputs (as the CPU twin), and the executor
// reads the record once per step (it is 32 bytes) and turns it into a Status with
// gpu_error_status(). Launchers themselves return a non-ok Status only for static problems
// (a shape this backend does not handle, too little workspace, a launch failure).
#pragma once

#include <cstdint>

#include "dse/status.h"
#include "dse/targets/kernel_abi.h"

// The vendor's stream handle without including the vendor's headers: cudaStream_t is
// `CUstream_st*` and hipStream_t is `ihipStream_t*`, so both names denote the same type.
#if defined(DSE_GPU_HIP)
struct ihipStream_t;
#else
struct CUstream_st;
#endif

namespace dse::gpu {

#if defined(DSE_GPU_HIP)
using GpuStream = ihipStream_t*;
#else
using GpuStream = CUstream_st*;
#endif

// Which kernel family reported a run-time error (GpuErrorRecord::op).
enum class GpuOp : int32_t {
  none = 0,
  embed = 1,          // value: the token id, limit: the vocabulary size, row: the token row
  // Position errors of rope .. mla_attention: value: the row's position, row: the row. With
  // kSlotErrorFlag (0x100) or'ed into op, the row named a cache slot outside [0, slots) instead:
  // value: the slot, limit: the slots (StepInfo::slots), row: the row.
  rope = 2,           // value: the position, limit: rows of the rope table
  kv_store = 3,       // value: the position, limit: rows of one slot of the cache
  attention = 4,      // value: the position, limit: rows of one slot of the KV cache
  mla_attention = 5,  // value: the position, limit: rows of one slot of the latent cache
  moe_ffn = 6,        // value: the expert id, limit: n_experts, row: token * top_k + slot
  last_row = 7,       // value: n_tokens (no row to copy)
};

// The first run-time error of a step, written by the kernel that found it (atomically: the first
// writer wins). Zero-initialised means "no error"; the executor clears it (cudaMemsetAsync)
// before each step or after reading an error.
struct GpuErrorRecord {
  int32_t code = 0;  // a StatusCode value; 0 = ok
  int32_t op = 0;    // a GpuOp value
  int64_t value = 0;
  int64_t limit = 0;
  int64_t row = 0;
};
static_assert(sizeof(GpuErrorRecord) == 32, "the executor copies this record back every step");

// Per-call launch context. All pointers are device memory owned by the executor's session
// (planned at session creation, never allocated here); they must outlive every launch and every
// replay of a graph that captured the launch.
struct GpuStep {
  const StepInfo* d_step = nullptr;   // read by the kernels when they run (required)
  GpuErrorRecord* d_error = nullptr;  // where run-time errors go (may be null: errors are then
                                      // only visible as unwritten outputs)
  void* workspace = nullptr;          // scratch for this call, >= workspace_bytes of the kernel
  uint64_t workspace_bytes = 0;
  // The artifact's cache slots (max_batch): the value every step written to d_step has in
  // StepInfo::slots. Static for a session, so launchers may size grids by it (the attention
  // kernels cut one slot's cache rows into chunks). Must not exceed the device step's slots: a
  // smaller value only costs idle blocks, a larger one would leave positions unattended.
  int64_t slots = 1;
  // Every step of this program is one sequence's rows at consecutive positions of one slot (never
  // a batched step): the runtime sets it for the prefill program. Lets attention_f32 take its
  // one-pass prefill kernel (attention_prefill.cuh).
  bool one_sequence = false;
};

// Programmatic dependent launch (targets/gpu/src/launch.cuh): while an OverlappedLaunches object
// is alive, the kernels this thread enqueues are launched so that each can start (and load its
// weights) before its predecessor has finished, on sm_90 and newer unless DSE_GPU_PDL=0. The
// runtime holds one while it enqueues or captures the decode step, where launches are a large
// share of a token's time; not for prefill, which it made slower (H200, 1.5B: 16.4k -> 14.4k
// tok/s for a 512-token prompt). Scopes nest; each thread has its own.
class OverlappedLaunches {
 public:
  OverlappedLaunches();
  ~OverlappedLaunches();
  OverlappedLaunches(const OverlappedLaunches&) = delete;
  OverlappedLaunches& operator=(const OverlappedLaunches&) = delete;

 private:
  bool previous_;
};

// A GPU kernel launcher: enqueues the kernel(s) of one KernelCall on `stream` and returns
// without waiting. The operands of `call` hold device addresses; their shapes are the static
// capacities the compiler planned. Safe to call during stream capture.
using GpuKernelFn = Status (*)(const KernelCall& call, const GpuStep& step, GpuStream stream);

// Bytes of device scratch a call needs (0 for most kernels); depends only on static shapes, so
// the session can plan it once.
using GpuWorkspaceFn = uint64_t (*)(const KernelCall& call);

// The Status for an error record copied back from the device (ok when record.code == 0), with a
// message in the same words as the CPU twin's.
Status gpu_error_status(const GpuErrorRecord& record);

}  // namespace dse::gpu
