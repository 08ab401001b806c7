// Small pieces shared by the CPU kernel sources: typed operand access, cache rows, run-time errors.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

#include "dse/status.h"
#include "dse/targets/dtype_convert.h"
#include "dse/targets/kernel_abi.h"
#include "weight_rows.h"

namespace dse::cpu {

template <typename T>
inline T* data_of(const TensorView& t) { return static_cast<T*>(t.data); }

// Element i of an F32 or F16 cache row (KV caches and MLA caches may be either).
inline float cache_value(const TensorView& cache, int64_t index) {
  if (cache.dtype == DType::f16) return load_f16(static_cast<const uint16_t*>(cache.data)[index]);
  return static_cast<const float*>(cache.data)[index];
}

// The error a kernel returns when a call reaches a sequence position that the compiler did not
// plan for (cache rows, rope table rows).
inline Status position_error(const char* kernel, int64_t pos, int64_t capacity, const char* what) {
  return Status(StatusCode::out_of_range,
                std::string(kernel) + ": position " + std::to_string(pos) + " is outside the " + what +
                    " of " + std::to_string(capacity) +
                    " positions; the sequence is longer than the context the artifact was compiled "
                    "for: start a new sequence or recompile with a larger --max-seq-len");
}

// Checks that every row of the step names a valid slot and a position in [0, capacity), where
// capacity is per slot (slot_rows of a cache; the rope table's rows).
inline Status check_positions(const char* kernel, const StepInfo& step, int64_t rows, int64_t capacity,
                              const char* what) {
  const int64_t bad = first_bad_row(step, rows, capacity);
  if (bad < 0) return Status::Ok();
  if (bad_row_is_slot_error(step, bad)) {
    return Status(StatusCode::out_of_range, std::string(kernel) + ": row " + std::to_string(bad) + " names cache slot " +
                                                std::to_string(row_slot(step, bad)) + ", outside the " +
                                                std::to_string(step.slots) + " slots (--max-batch) of this artifact");
  }
  return position_error(kernel, row_position(step, bad), capacity, what);
}

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace dse::cpu
