// Streams an artifact to disk: segments first (each 4 KiB aligned, checksummed, optionally zstd),
// then the metadata and the header into the space reserved before them. Layout: docs/FORMAT.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "dse/formats/artifact_generated.h"
#include "dse/formats/segment_info.h"
#include "dse/status.h"

namespace dse::formats {

// How a caller uses it:
//
//   1. Build the metadata once with placeholder_segments(n) (segment_table.h) and a builder with
//      force_defaults(true); its size is the metadata capacity.
//   2. auto w = ArtifactWriter::create("model.dse", capacity);
//   3. For each weight: w->write_segment(bytes, Codec::Zstd, 3), or begin_segment / append ... /
//      end_segment for a tensor produced in chunks. Keep the returned SegmentInfo.
//   4. Build the metadata again with the real SegmentInfos and call w->finish(metadata).
//
// Nothing appears at `path` until finish() succeeds: the bytes go to "<path>.tmp.<pid>", which
// is fsynced and renamed over `path` at the end. Any error (and destroying or abort()ing the
// writer before finish) removes the temporary file; after an error every further call returns
// the first error again. Segments are written as they come and never held in memory together:
// memory use is one zstd context plus one output chunk.
//
// Not thread-safe; one writer per file. Move-only.
class ArtifactWriter {
 public:
  // Creates "<path>.tmp.<pid>" and reserves `metadata_capacity_bytes` for the metadata after the
  // 64-byte header. The first segment starts at the next multiple of 4096 after that.
  // Errors: invalid_argument (capacity 0 or over the 2 GiB FlatBuffers limit), not_found /
  // io_error (directory missing, not writable, ...) naming the path and the reason.
  static Result<ArtifactWriter> create(const std::filesystem::path& path, uint64_t metadata_capacity_bytes);

  ArtifactWriter(ArtifactWriter&& other) noexcept;
  ArtifactWriter& operator=(ArtifactWriter&& other) noexcept;
  ArtifactWriter(const ArtifactWriter&) = delete;
  ArtifactWriter& operator=(const ArtifactWriter&) = delete;
  // Calls abort() unless finish() succeeded.
  ~ArtifactWriter();

  // Writes `data` as the next segment. `level` is the zstd level (ignored, recorded as 0, for
  // Codec::None). `data` is only read during the call.
  Result<SegmentInfo> write_segment(std::span<const std::byte> data, fb::Codec codec, int level = 3);

  // The same, for data that arrives in pieces: begin_segment, any number of append /
  // append_zeros, end_segment. Only one segment is open at a time.
  Status begin_segment(fb::Codec codec, int level = 3);
  Status append(std::span<const std::byte> data);
  // Appends `bytes` zero bytes. In an uncompressed segment they become a hole in the file (no
  // disk blocks, no write), which is how zero-initialised tensors and the large-file test cost
  // nothing; in a zstd segment they are compressed like any data.
  Status append_zeros(uint64_t bytes);
  Result<SegmentInfo> end_segment();

  // Writes `metadata` (a finished FlatBuffers buffer with identifier "DSE1") after the header,
  // then the header, fsyncs and renames the file into place. Refuses metadata that is larger than
  // the capacity given to create(), that fails FlatBuffers verification, or whose segment table
  // differs from the segments written (count or any field): such a file would be rejected by
  // the reader or would point at the wrong bytes. Errors leave no file behind, with one
  // exception: if only the fsync of the directory after the rename fails, the complete file is
  // in place and the io_error says so.
  Status finish(std::span<const uint8_t> metadata);

  // Closes and removes the temporary file. Safe to call more than once and after finish().
  void abort();

  // Segments written so far, in order.
  const std::vector<SegmentInfo>& segments() const;
  uint64_t metadata_capacity() const;
  // Offset (bytes) where the first segment goes for this capacity.
  static uint64_t first_segment_offset(uint64_t metadata_capacity_bytes);

 private:
  struct Impl;
  explicit ArtifactWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dse::formats
