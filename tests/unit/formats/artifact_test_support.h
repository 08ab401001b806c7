// Test support for the artifact tests: a self-removing temporary directory, a small but complete
// metadata buffer, and helpers to damage files on purpose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "dse/formats/segment_info.h"

namespace dse::formats::test {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  // Names of the entries in the directory, sorted (to prove that nothing was left behind).
  std::vector<std::string> entries() const;

 private:
  std::filesystem::path path_;
};

// A finished Artifact buffer (identifier "DSE1") with a producer, a target, a small tokenizer
// of `vocab_size` tokens and the given segment table, built with force_defaults(true).
std::vector<uint8_t> build_metadata(std::span<const SegmentInfo> segments, size_t vocab_size = 8);

// `n` bytes of deterministic, poorly compressible data that differ by `seed`.
std::vector<std::byte> pattern_bytes(size_t n, uint32_t seed);
// `n` bytes that compress well (a repeating ramp).
std::vector<std::byte> compressible_bytes(size_t n);

std::vector<uint8_t> read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes);
// Overwrites bytes at `offset` in place, keeping the file size.
void patch_file(const std::filesystem::path& path, uint64_t offset, std::span<const uint8_t> bytes);
void flip_bit(const std::filesystem::path& path, uint64_t offset, int bit);

// Writes a file the writer would refuse to produce: a valid header (checksums right) around
// `metadata`, zero padding to `file_size` bytes. For tests of the reader's later checks.
void write_raw_artifact(const std::filesystem::path& path, std::span<const uint8_t> metadata, uint64_t file_size,
                        uint16_t major = 1, uint16_t minor = 0);

}  // namespace dse::formats::test
