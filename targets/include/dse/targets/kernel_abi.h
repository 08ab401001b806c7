// The calling convention between the runtime's executor and the kernels of every backend.
// The compiler emits instructions (kernel name, operand slots, integer and float parameters);
// at session creation the executor resolves each into a KernelCall once, so a step only walks
// an array. What the operands and parameters of each kernel mean is in docs/KERNELS.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dse/status.h"

namespace dse {

// Same values as dse.fb.DType in formats/artifact.fbs.
enum class DType : uint8_t { f32 = 0, f16 = 1, bf16 = 2, i8 = 3, i4 = 4, fp8e4m3 = 5, i32 = 6, u8 = 7 };

constexpr int kMaxRank = 4;

// A resolved operand: a fixed address plus the static shape the compiler planned.
// For activations, shape[0] is the token capacity; a kernel processes
// rows = min(shape[0], step.n_tokens) of them (see StepInfo).
struct TensorView {
  void* data = nullptr;
  uint64_t bytes = 0;
  DType dtype = DType::f32;
  int32_t rank = 0;
  int64_t shape[kMaxRank] = {0, 0, 0, 0};
  int32_t group_size = 0;  // quantized weights only
};

// Sequences one artifact can hold at once (dsc --max-batch): every KV cache has one slot of
// max_seq_len rows per sequence, and the decode entry point takes one row per sequence.
constexpr int kMaxBatch = 64;

// Host and device functions: nvcc predefines __host__ / __device__; clang compiling HIP (or CUDA)
// knows the attributes before any runtime header defines those macros.
#if defined(__HIPCC__) || (defined(__clang__) && defined(__CUDA__))
#define DSE_HOST_DEVICE __attribute__((host)) __attribute__((device))
#elif defined(__CUDACC__)
#define DSE_HOST_DEVICE __host__ __device__
#else
#define DSE_HOST_DEVICE
#endif

// What changes from one call of an entry point to the next, and where each row's sequence lives.
// One sequence (batched == 0): every row belongs to cache slot `slot`, row t at position
// start_pos + t (prefill chunks, and decode at batch 1). Batched decode (batched != 0): row t is
// the sequence of slot t, at position positions[t]; start_pos and slot are unused.
// `slots` is the artifact's max_batch: a cache of R rows gives each slot R / slots of them, slot s
// owning rows [s * R / slots, (s + 1) * R / slots). A step is plain data: the GPU backend copies it
// to device memory as it is.
struct StepInfo {
  int64_t n_tokens = 0;   // rows in this call (<= the entry's token capacity)
  int64_t start_pos = 0;  // one sequence: position of the first row
  int64_t slot = 0;       // one sequence: its cache slot, in [0, slots)
  int64_t slots = 1;      // cache slots (max_batch); 1 for an artifact compiled for one sequence
  int64_t batched = 0;    // nonzero: row t is slot t at positions[t]
  int64_t positions[kMaxBatch] = {};
};

// Position of row t in its sequence.
DSE_HOST_DEVICE inline int64_t row_position(const StepInfo& step, int64_t t) {
  return step.batched ? step.positions[t] : step.start_pos + t;
}

// Cache slot of row t.
DSE_HOST_DEVICE inline int64_t row_slot(const StepInfo& step, int64_t t) { return step.batched ? t : step.slot; }

// Rows each of `slots` slots owns in a cache (or per-position scale table) of `cache_rows` rows.
DSE_HOST_DEVICE inline int64_t rows_per_slot(int64_t cache_rows, int64_t slots) {
  return slots > 1 ? cache_rows / slots : cache_rows;
}

// The same for the step's slots.
DSE_HOST_DEVICE inline int64_t slot_rows(const StepInfo& step, int64_t cache_rows) {
  return rows_per_slot(cache_rows, step.slots);
}

// The cache row of position 0 of row t's slot.
DSE_HOST_DEVICE inline int64_t slot_first_row(const StepInfo& step, int64_t t, int64_t cache_rows) {
  return row_slot(step, t) * slot_rows(step, cache_rows);
}

// The cache row of row t's position: its slot's first row plus its position.
DSE_HOST_DEVICE inline int64_t cache_row(const StepInfo& step, int64_t t, int64_t cache_rows) {
  return slot_first_row(step, t, cache_rows) + row_position(step, t);
}

// The check of every kernel that indexes a cache or table by position, with `limit` positions per
// slot: returns the first row whose slot or position is out of range, or -1 when all of rows
// 0 .. rows - 1 are in range. A step naming a slot outside [0, slots) or slots outside
// [1, kMaxBatch] fails at row 0.
DSE_HOST_DEVICE inline int64_t first_bad_row(const StepInfo& step, int64_t rows, int64_t limit) {
  if (rows <= 0) return -1;
  if (step.slots < 1 || step.slots > kMaxBatch) return 0;
  if (!step.batched) {
    if (step.slot < 0 || step.slot >= step.slots || step.start_pos < 0) return 0;
    return step.start_pos + rows - 1 < limit ? -1 : rows - 1;
  }
  for (int64_t t = 0; t < rows; ++t) {
    if (t >= step.slots || step.positions[t] < 0 || step.positions[t] >= limit) return t;
  }
  return -1;
}

// Whether row `bad` (from first_bad_row) failed for its slot (outside [0, slots), or the step's
// slots outside [1, kMaxBatch]) rather than for its position: the two errors kernels report.
DSE_HOST_DEVICE inline bool bad_row_is_slot_error(const StepInfo& step, int64_t bad) {
  const int64_t slot = row_slot(step, bad);
  return step.slots < 1 || step.slots > kMaxBatch || slot < 0 || slot >= step.slots;
}

class ThreadPool;  // targets/cpu: a fixed pool created with the session

struct KernelCall {
  const TensorView* operands = nullptr;
  uint32_t n_operands = 0;
  const int64_t* iparams = nullptr;
  uint32_t n_iparams = 0;
  const float* fparams = nullptr;
  uint32_t n_fparams = 0;
};

// A call on `n_operands` views at `operands` with the given parameter arrays (any may be null when
// its count is 0); the call only points at them, so they must outlive it.
inline KernelCall make_kernel_call(const TensorView* operands, size_t n_operands, const int64_t* iparams,
                                   size_t n_iparams, const float* fparams, size_t n_fparams) {
  KernelCall c;
  c.operands = operands;
  c.n_operands = uint32_t(n_operands);
  c.iparams = iparams;
  c.n_iparams = uint32_t(n_iparams);
  c.fparams = fparams;
  c.n_fparams = uint32_t(n_fparams);
  return c;
}

// A CPU kernel. Returns a non-ok Status only for conditions the loader could not rule out
// (the loader already checked operand counts, dtypes and bounds).
using CpuKernelFn = Status (*)(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

inline int64_t rows_of(const TensorView& t, const StepInfo& step) {
  return t.shape[0] < step.n_tokens ? t.shape[0] : step.n_tokens;
}

}  // namespace dse
