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

// What changes from one call of an entry point to the next.
struct StepInfo {
  int64_t n_tokens = 0;   // tokens in this call (1 for decode, <= chunk for prefill)
  int64_t start_pos = 0;  // position of the first of them in the sequence
};

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
