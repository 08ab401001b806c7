// Read-only access to Hugging Face safetensors checkpoints (one file or shards listed in
// model.safetensors.index.json), memory-mapped and validated before any tensor is handed out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dse/status.h"

namespace dse::importer {

// The dtypes a safetensors header may name. The importer converts f32, f16, bf16 and f8_e4m3;
// the others are accepted in the header (and their sizes checked) but not converted.
enum class StDType : uint8_t { f64, f32, f16, bf16, f8_e4m3, f8_e5m2, i64, i32, i16, i8, u8, boolean };
const char* st_dtype_name(StDType dtype);  // as in the header: "F32", "BF16", "F8_E4M3", ...
size_t st_dtype_bytes(StDType dtype);       // bytes per element

struct TensorInfo {
  std::string name;
  StDType dtype = StDType::f32;
  std::vector<int64_t> shape;
  std::span<const std::byte> data;  // into the mapping; valid while the archive lives
  uint32_t file_index = 0;          // index into SafetensorsArchive::files()

  int64_t numel() const;
  // A tensor of rank >= 2 is read as a matrix [shape[0], product of the rest]; rank 1 and 0
  // as one row.
  int64_t rows() const;
  int64_t cols() const;
};

// Owns the mappings of every shard. Move-only; TensorInfo pointers and data spans stay valid
// across moves and until destruction.
class SafetensorsArchive {
 public:
  // `path`: a folder holding model.safetensors.index.json (sharded) or model.safetensors, or
  // one .safetensors file. Every shard's header is parsed and checked: header length within the
  // file, valid JSON, known dtypes, non-negative shapes, data_offsets inside the data area and
  // equal to shape x dtype size, no overlaps, no duplicate names (within and across shards),
  // index entries that exist in the shard they name. Errors name the file and the tensor.
  static Result<SafetensorsArchive> open(const std::filesystem::path& path);

  SafetensorsArchive();
  SafetensorsArchive(SafetensorsArchive&&) noexcept;
  SafetensorsArchive& operator=(SafetensorsArchive&&) noexcept;
  ~SafetensorsArchive();

  // nullptr when absent.
  const TensorInfo* find(std::string_view name) const;
  // All tensors, sorted by name.
  std::span<const TensorInfo> tensors() const;
  // The shard files, in the order file_index refers to them.
  std::span<const std::filesystem::path> files() const;
  // xxHash64 over every shard's header bytes in file order: identifies the checkpoint without
  // reading the weights.
  uint64_t fingerprint() const;
  // Tells the kernel that the pages of rows [row_begin, row_end) of `tensor` will not be read
  // again soon (madvise DONTNEED), so a streaming pass keeps little of the file resident.
  void release_rows(const TensorInfo& tensor, int64_t row_begin, int64_t row_end) const;

 private:
  static Result<SafetensorsArchive> open_checked(const std::filesystem::path& path);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dse::importer
