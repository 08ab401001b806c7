// Converts rows of a checkpoint tensor to f32: bf16, f16, f32, and FP8 e4m3 dequantized with
// its `<name>_scale_inv` block scales (DeepSeek-V3/R1). Rejects NaN and Inf.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dse/import/safetensors.h"
#include "dse/status.h"

namespace dse::importer {

// Name of the FP8 scale companion: "x.weight" -> "x.weight_scale_inv".
std::string scale_inv_name(std::string_view weight_name);

// Writes rows [row_begin, row_end) of `tensor` (viewed as [rows(), cols()]) to `out` as f32,
// row-major; `out.size()` must be (row_end - row_begin) * cols(). FP8 tensors need their
// `_scale_inv` companion in `archive` (F32 or BF16, shape [ceil(rows/block_rows),
// ceil(cols/block_cols)]): W[i, j] = fp8(W)[i, j] * scale_inv[i / block_rows, j / block_cols].
// Errors: invalid_argument for a bad range or size, unsupported for an unconvertible dtype,
// not_found / corrupt_data for a missing or mis-shaped scale, corrupt_data for NaN or Inf
// (the message names the tensor, row and column).
Status read_rows_f32(const SafetensorsArchive& archive, const TensorInfo& tensor,
                     int64_t row_begin, int64_t row_end, std::span<float> out,
                     int64_t block_rows = 128, int64_t block_cols = 128);

// Whole tensor as f32 (for small tensors: norms, biases, router bias).
Result<std::vector<float>> read_tensor_f32(const SafetensorsArchive& archive,
                                           const TensorInfo& tensor,
                                           int64_t block_rows = 128, int64_t block_cols = 128);

}  // namespace dse::importer
