// Opens an artifact read-only through mmap and checks it before anything in it is trusted:
// header, version, size, metadata, segment table. Check order and messages: docs/FORMAT.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "dse/formats/artifact_generated.h"
#include "dse/formats/header.h"
#include "dse/formats/segment_info.h"
#include "dse/status.h"

namespace dse::formats {

// Owns the read-only mapping of one artifact; every span and FlatBuffers pointer it hands out
// points into that mapping and is valid until the reader is destroyed (moving the reader keeps
// them valid). The file must not be truncated while mapped (the kernel would raise SIGBUS on
// access to the lost pages): artifacts are written once and renamed into place, never edited.
//
// After open() succeeds the header, the metadata (FlatBuffers-verified) and the segment table
// (ranges, alignment, overlap) are valid; segment contents are only checked by verify_segment /
// read_segment, because hashing gigabytes of weights at open time would defeat the mmap.
//
// All const methods are safe to call from several threads at once. Move-only; never throws.
class ArtifactReader {
 public:
  // Maps `path` and checks it. Errors: not_found / io_error (cannot open or map),
  // corrupt_data (too short, wrong magic, checksum, size, metadata or segment table),
  // unsupported (newer major version, unknown codec); each message names the file and the numbers.
  static Result<ArtifactReader> open(const std::filesystem::path& path);

  ArtifactReader(ArtifactReader&& other) noexcept;
  ArtifactReader& operator=(ArtifactReader&& other) noexcept;
  ArtifactReader(const ArtifactReader&) = delete;
  ArtifactReader& operator=(const ArtifactReader&) = delete;
  ~ArtifactReader();  // unmaps

  const std::filesystem::path& path() const { return path_; }
  const ArtifactHeader& header() const { return header_; }
  // The verified metadata root. Never null after a successful open().
  const fb::Artifact* metadata() const { return metadata_; }
  std::span<const uint8_t> metadata_bytes() const;
  // The whole file as mapped.
  std::span<const std::byte> file_bytes() const;

  size_t segment_count() const { return segments_.size(); }
  // The segment table, decoded and validated at open().
  const std::vector<SegmentInfo>& segments() const { return segments_; }

  // The stored bytes of segment `i`, inside the mapping (for Codec::None: the tensor itself,
  // usable in place). Not checksummed: call verify_segment first if the bytes matter.
  // Errors: out_of_range for a bad index.
  Result<std::span<const std::byte>> segment_bytes(size_t i) const;

  // Recomputes the xxHash64 of segment `i`'s stored bytes and compares it with the table.
  // Errors: out_of_range, corrupt_data naming the segment, the file and both checksums.
  Status verify_segment(size_t i) const;
  Status verify_all_segments() const;

  // Verifies segment `i`'s checksum, then decodes it into `dst`, whose size must equal the
  // segment's raw_size (copy for None, zstd for Zstd). `dst` is written only; the caller owns it.
  // Errors: out_of_range, invalid_argument (dst size), corrupt_data (checksum, bad zstd data).
  Status read_segment(size_t i, std::span<std::byte> dst) const;

 private:
  ArtifactReader() = default;
  void unmap();

  std::filesystem::path path_;
  const std::byte* base_ = nullptr;  // the mapping
  uint64_t size_ = 0;                // bytes mapped == file size
  ArtifactHeader header_;
  const fb::Artifact* metadata_ = nullptr;
  std::vector<SegmentInfo> segments_;
};

}  // namespace dse::formats
