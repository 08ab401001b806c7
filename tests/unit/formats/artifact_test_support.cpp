// Temporary directories, metadata and file-damaging helpers for the artifact tests.
#include "artifact_test_support.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <stdexcept>

#include <unistd.h>

#include "dse/formats/artifact_generated.h"
#include "dse/formats/checksum.h"
#include "dse/formats/header.h"
#include "dse/formats/segment_table.h"

namespace dse::formats::test {

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          ("dse-formats-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<uint8_t> build_metadata(std::span<const SegmentInfo> segments, size_t vocab_size) {
  flatbuffers::FlatBufferBuilder b;
  b.ForceDefaults(true);
  auto producer = b.CreateString("dse formats unit test");
  auto target = fb::CreateTargetInfo(b, b.CreateString("cpu"), b.CreateString("cpu"));
  std::vector<flatbuffers::Offset<flatbuffers::String>> vocab;
  for (size_t i = 0; i < vocab_size; ++i) vocab.push_back(b.CreateString("tok" + std::to_string(i)));
  auto tokenizer = fb::CreateTokenizer(b, b.CreateString("bpe"), b.CreateVector(vocab));
  auto table = build_segment_table(b, segments);
  auto root = fb::CreateArtifact(b, producer, /*source_fingerprint=*/0x1234, target, /*config=*/0, tokenizer,
                                 /*regions=*/0, /*slots=*/0, /*entry_points=*/0, table);
  fb::FinishArtifactBuffer(b, root);
  return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
}

std::vector<std::byte> pattern_bytes(size_t n, uint32_t seed) {
  std::vector<std::byte> out(n);
  uint32_t x = seed * 2654435761u + 1;
  for (auto& v : out) {
    x ^= x << 13;  // xorshift32
    x ^= x >> 17;
    x ^= x << 5;
    v = static_cast<std::byte>(x & 0xff);
  }
  return out;
}

std::vector<std::byte> compressible_bytes(size_t n) {
  std::vector<std::byte> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<std::byte>((i % 4096) / 16);
  return out;
}

std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void patch_file(const std::filesystem::path& path, uint64_t offset, std::span<const uint8_t> bytes) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!f) throw std::runtime_error("cannot patch " + path.string());
}

void flip_bit(const std::filesystem::path& path, uint64_t offset, int bit) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ (1 << bit));
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  if (!f) throw std::runtime_error("cannot flip a bit in " + path.string());
}

void write_raw_artifact(const std::filesystem::path& path, std::span<const uint8_t> metadata, uint64_t file_size,
                        uint16_t major, uint16_t minor) {
  ArtifactHeader h;
  h.format_major = major;
  h.format_minor = minor;
  h.metadata_offset = kHeaderSize;
  h.metadata_size = metadata.size();
  h.metadata_checksum = xxhash64(metadata);
  h.file_size = file_size;
  const HeaderBytes header = encode_header(h);
  std::vector<uint8_t> bytes(std::max<uint64_t>(file_size, kHeaderSize + metadata.size()), 0);
  std::copy(header.begin(), header.end(), bytes.begin());
  std::copy(metadata.begin(), metadata.end(), bytes.begin() + kHeaderSize);
  bytes.resize(file_size);
  write_file(path, bytes);
}

}  // namespace dse::formats::test
