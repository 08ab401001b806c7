// Greedy sampling on the device: the argmax of the logits, so that only a token id crosses the bus.
// CUDA names; built as CUDA or, through vendor_runtime.h, as HIP.
#pragma once

#include <cstdint>

#include "vendor_runtime.h"

namespace dse::runtime {

// Writes to *d_out (device) the index of the largest of d_logits[0, n) (device), ties to the
// lower index as the CPU sampler; NaN counts as -inf. One block; n < 2^31. Enqueued on `stream`.
cudaError_t launch_argmax_f32(const float* d_logits, int64_t n, int32_t* d_out, cudaStream_t stream);

// The same for each row of d_logits [rows, n]: d_out[r] (device) = argmax of row r. One launch,
// one block per row (rows < 2^31).
cudaError_t launch_argmax_rows_f32(const float* d_logits, int64_t n, int64_t rows, int32_t* d_out,
                                   cudaStream_t stream);

// cudaSuccess when this build holds code the current device can run (checked at session
// creation, so that an architecture missing from CMAKE_CUDA_ARCHITECTURES or
// CMAKE_HIP_ARCHITECTURES is named up front).
cudaError_t argmax_kernel_runs_here();

}  // namespace dse::runtime
