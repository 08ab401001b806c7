// Row-wise conversion of checkpoint tensors to f32, with FP8 block dequantization.
#include "dse/import/tensor_reader.h"

#include <cmath>
#include <cstring>

#include "dse/targets/dtype_convert.h"

namespace dse::importer {
namespace {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

template <typename T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));  // safetensors data need not be aligned
  return v;
}

// Converts `count` elements starting at element `first` of `t` to f32.
void convert(const TensorInfo& t, int64_t first, int64_t count, float* out) {
  const std::byte* p = t.data.data();
  switch (t.dtype) {
    case StDType::f32:
      std::memcpy(out, p + first * 4, size_t(count) * 4);
      break;
    case StDType::f16:
      for (int64_t i = 0; i < count; ++i) out[i] = f16_to_f32(load<uint16_t>(p + (first + i) * 2));
      break;
    case StDType::bf16:
      for (int64_t i = 0; i < count; ++i) out[i] = bf16_to_f32(load<uint16_t>(p + (first + i) * 2));
      break;
    case StDType::f8_e4m3:
      for (int64_t i = 0; i < count; ++i)
        out[i] = fp8e4m3_to_f32(std::to_integer<uint8_t>(p[first + i]));
      break;
    default:
      break;
  }
}

bool convertible(StDType d) {
  return d == StDType::f32 || d == StDType::f16 || d == StDType::bf16 || d == StDType::f8_e4m3;
}

Status non_finite(const TensorInfo& t, int64_t row, int64_t col, float v, const char* what) {
  return Status(StatusCode::corrupt_data,
                "tensor \"" + t.name + "\" " + shape_str(t.shape) + " " + st_dtype_name(t.dtype) +
                    ": " + what + " [" + std::to_string(row) + ", " + std::to_string(col) + "] is " +
                    (std::isnan(v) ? "NaN" : "Inf") +
                    "; the checkpoint is damaged (or was saved after a diverged step): use an "
                    "intact copy");
}

}  // namespace

std::string scale_inv_name(std::string_view weight_name) {
  return std::string(weight_name) + "_scale_inv";
}

Status read_rows_f32(const SafetensorsArchive& archive, const TensorInfo& t, int64_t row_begin,
                     int64_t row_end, std::span<float> out, int64_t block_rows, int64_t block_cols) {
  const int64_t rows = t.rows(), cols = t.cols();
  if (row_begin < 0 || row_end < row_begin || row_end > rows)
    return Status(StatusCode::invalid_argument,
                  "read_rows_f32: rows [" + std::to_string(row_begin) + ", " +
                      std::to_string(row_end) + ") are outside tensor \"" + t.name + "\" " +
                      shape_str(t.shape) + " (" + std::to_string(rows) + " rows)");
  if (int64_t(out.size()) != (row_end - row_begin) * cols)
    return Status(StatusCode::invalid_argument,
                  "read_rows_f32: output holds " + std::to_string(out.size()) + " floats, rows [" +
                      std::to_string(row_begin) + ", " + std::to_string(row_end) + ") of \"" +
                      t.name + "\" need " + std::to_string((row_end - row_begin) * cols));
  if (!convertible(t.dtype))
    return Status(StatusCode::unsupported,
                  "tensor \"" + t.name + "\" has dtype " + st_dtype_name(t.dtype) +
                      "; weights must be F32, F16, BF16 or F8_E4M3 (with _scale_inv)");

  const int64_t n_rows = row_end - row_begin;
  convert(t, row_begin * cols, n_rows * cols, out.data());

  if (t.dtype == StDType::f8_e4m3) {
    // DeepSeek-V3/R1: W = fp8(W) * scale_inv[i / block_rows, j / block_cols] (a multiply
    // despite the name), with partial blocks at the right and bottom edges.
    const std::string sname = scale_inv_name(t.name);
    const TensorInfo* s = archive.find(sname);
    if (!s)
      return Status(StatusCode::not_found,
                    "tensor \"" + t.name + "\" is F8_E4M3 but the checkpoint has no \"" + sname +
                        "\" to dequantize it; only block-scaled FP8 checkpoints (DeepSeek-V3/R1) "
                        "are supported");
    if (t.shape.size() != 2)
      return Status(StatusCode::unsupported, "tensor \"" + t.name + "\" is F8_E4M3 with shape " +
                                                 shape_str(t.shape) +
                                                 "; block scales are defined for matrices only");
    if (block_rows <= 0 || block_cols <= 0)
      return Status(StatusCode::invalid_argument, "read_rows_f32: FP8 block size must be positive");
    const int64_t sr = (rows + block_rows - 1) / block_rows, sc = (cols + block_cols - 1) / block_cols;
    if (s->shape.size() != 2 || s->shape[0] != sr || s->shape[1] != sc)
      return Status(StatusCode::corrupt_data,
                    "tensor \"" + sname + "\" has shape " + shape_str(s->shape) + ", expected [" +
                        std::to_string(sr) + ", " + std::to_string(sc) + "] for \"" + t.name +
                        "\" " + shape_str(t.shape) + " with " + std::to_string(block_rows) + "x" +
                        std::to_string(block_cols) + " blocks");
    if (s->dtype != StDType::f32 && s->dtype != StDType::bf16 && s->dtype != StDType::f16)
      return Status(StatusCode::unsupported, "tensor \"" + sname + "\" has dtype " +
                                                 st_dtype_name(s->dtype) + "; expected F32");
    std::vector<float> srow(static_cast<size_t>(sc));
    int64_t loaded = -1;
    for (int64_t r = 0; r < n_rows; ++r) {
      int64_t br = (row_begin + r) / block_rows;
      if (br != loaded) {
        convert(*s, br * sc, sc, srow.data());
        for (int64_t j = 0; j < sc; ++j)
          if (!std::isfinite(srow[size_t(j)])) return non_finite(*s, br, j, srow[size_t(j)], "scale");
        loaded = br;
      }
      float* o = out.data() + r * cols;
      for (int64_t c = 0; c < cols; ++c) o[c] *= srow[size_t(c / block_cols)];
    }
  }

  // One pass over the result catches NaN/Inf of every source dtype (and fp8 0x7f/0xff).
  for (int64_t i = 0; i < n_rows * cols; ++i)
    if (!std::isfinite(out[size_t(i)]))
      return non_finite(t, row_begin + i / cols, i % cols, out[size_t(i)], "element");
  return Status::Ok();
}

Result<std::vector<float>> read_tensor_f32(const SafetensorsArchive& archive, const TensorInfo& t,
                                           int64_t block_rows, int64_t block_cols) {
  std::vector<float> v(size_t(t.numel()));
  Status st = read_rows_f32(archive, t, 0, t.rows(), v, block_rows, block_cols);
  if (!st.ok()) return st;
  return v;
}

}  // namespace dse::importer
