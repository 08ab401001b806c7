// Every way the reader refuses a damaged or foreign file, each with its own message.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <algorithm>
#include <filesystem>

#include "artifact_test_support.h"
#include "dse/formats/artifact_reader.h"
#include "dse/formats/artifact_writer.h"
#include "dse/formats/checksum.h"
#include "dse/formats/header.h"
#include "dse/formats/segment_table.h"

using namespace dse::formats;
using namespace dse::formats::test;
using Catch::Matchers::ContainsSubstring;
using dse::StatusCode;
using dse::fb::Codec;

namespace {

// A valid artifact with three segments (None, Zstd, None); returns the segment table.
std::vector<SegmentInfo> write_sample(const std::filesystem::path& path) {
  auto writer = ArtifactWriter::create(path, build_metadata(placeholder_segments(3)).size());
  REQUIRE(writer.ok());
  std::vector<SegmentInfo> infos;
  auto a = writer->write_segment(pattern_bytes(9000, 1), Codec::None);
  auto b = writer->write_segment(compressible_bytes(50000), Codec::Zstd, 3);
  auto c = writer->write_segment(pattern_bytes(5000, 2), Codec::None);
  REQUIRE((a.ok() && b.ok() && c.ok()));
  infos = {*a, *b, *c};
  REQUIRE(writer->finish(build_metadata(infos)).ok());
  return infos;
}

// Opens `path`, which must fail; returns the status.
dse::Status open_fails(const std::filesystem::path& path) {
  auto reader = ArtifactReader::open(path);
  REQUIRE_FALSE(reader.ok());
  INFO(reader.status().message());
  CHECK_THAT(reader.status().message(), ContainsSubstring(path.string()));
  return reader.status();
}

// Rewrites the header of `path` with `edit` applied, checksums recomputed.
template <typename Edit>
void rewrite_header(const std::filesystem::path& path, Edit edit) {
  const auto bytes = read_file(path);
  ArtifactHeader h = decode_header(std::span<const uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  edit(h);
  const HeaderBytes encoded = encode_header(h);
  patch_file(path, 0, encoded);
}

}  // namespace

TEST_CASE("the reader opens a valid artifact") {
  TempDir dir;
  write_sample(dir / "ok.dse");
  auto reader = ArtifactReader::open(dir / "ok.dse");
  INFO(reader.status().message());
  CHECK(reader.ok());
}

TEST_CASE("the reader reports a missing file with its path and the reason") {
  TempDir dir;
  auto reader = ArtifactReader::open(dir / "absent.dse");
  REQUIRE_FALSE(reader.ok());
  CHECK(reader.status().code() == StatusCode::not_found);
  CHECK_THAT(reader.status().message(), ContainsSubstring("absent.dse") && ContainsSubstring("No such file"));
}

TEST_CASE("the reader rejects a file shorter than the header") {
  TempDir dir;
  write_file(dir / "short.dse", std::vector<uint8_t>(40, 0));
  const auto s = open_fails(dir / "short.dse");
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("40 bytes, shorter than the 64-byte artifact header"));
}

TEST_CASE("the reader rejects a file that is not an artifact by its magic") {
  TempDir dir;
  std::vector<uint8_t> elf(4096, 0);
  const uint8_t magic[] = {0x7f, 'E', 'L', 'F', 2, 1, 1, 0};
  std::copy(std::begin(magic), std::end(magic), elf.begin());
  write_file(dir / "a.out", elf);
  const auto s = open_fails(dir / "a.out");
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("not a DeepSeek Edge artifact") && ContainsSubstring("7f 45 4c 46"));
}

TEST_CASE("the reader rejects a damaged header by its checksum") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  flip_bit(path, 20, 3);  // inside metadata_offset
  const auto s = open_fails(path);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("header checksum"));
}

TEST_CASE("the reader rejects an artifact from a newer major version") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  rewrite_header(path, [](ArtifactHeader& h) {
    h.format_major = 2;
    h.format_minor = 3;
  });
  const auto s = open_fails(path);
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_THAT(s.message(), ContainsSubstring("built by a newer dsc: format 2.3, this runtime reads 1.x; "
                                            "upgrade the runtime"));
}

TEST_CASE("the reader accepts a newer minor version and unknown flags") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  rewrite_header(path, [](ArtifactHeader& h) {
    h.format_minor = 7;
    h.flags = 0x80;
  });
  auto reader = ArtifactReader::open(path);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  CHECK(reader->header().format_minor == 7);
}

TEST_CASE("the reader rejects a truncated file") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  const uint64_t size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size - 1000);
  const auto s = open_fails(path);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("truncated: the header says " + std::to_string(size) +
                                            " bytes, the file has " + std::to_string(size - 1000)));
}

TEST_CASE("the reader rejects a file with bytes appended") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  const uint64_t size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size + 10);
  const auto s = open_fails(path);
  CHECK_THAT(s.message(), ContainsSubstring("longer than its header says") && ContainsSubstring("10 extra"));
}

TEST_CASE("the reader rejects a metadata range outside the file") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  rewrite_header(path, [](ArtifactHeader& h) { h.metadata_size = h.file_size; });
  const auto s = open_fails(path);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("metadata range") && ContainsSubstring("is not inside the file"));
}

TEST_CASE("the reader rejects damaged metadata by its checksum") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  const auto bytes = read_file(path);
  const ArtifactHeader h = decode_header(std::span<const uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  flip_bit(path, h.metadata_offset + h.metadata_size - 3, 0);
  const auto s = open_fails(path);
  CHECK_THAT(s.message(), ContainsSubstring("metadata checksum"));
}

TEST_CASE("the reader rejects metadata that fails FlatBuffers verification") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<uint8_t> metadata = build_metadata({});
  // The root offset (first 4 bytes) now points far outside the buffer; the checksums are
  // recomputed by write_raw_artifact, so only the verifier can notice.
  metadata[0] = 0xf0;
  metadata[1] = 0xff;
  metadata[2] = 0x00;
  metadata[3] = 0x00;
  write_raw_artifact(path, metadata, kHeaderSize + metadata.size());
  const auto s = open_fails(path);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("failed FlatBuffers verification"));
}

TEST_CASE("the reader rejects metadata with another FlatBuffers identifier") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<uint8_t> metadata = build_metadata({});
  metadata[4] = 'X';
  write_raw_artifact(path, metadata, kHeaderSize + metadata.size());
  const auto s = open_fails(path);
  CHECK_THAT(s.message(), ContainsSubstring("identifier 'XSE1', expected 'DSE1'"));
}

TEST_CASE("the reader rejects a segment table pointing past the end of the file") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<SegmentInfo> table(1);
  table[0] = {8192, 4096, 4096, Codec::None, 0, 0};
  const auto metadata = build_metadata(table);
  write_raw_artifact(path, metadata, 8192 + 100);  // the segment needs 8192 + 4096
  const auto s = open_fails(path);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("segment 0 of") && ContainsSubstring("ends past the end of the file"));
}

TEST_CASE("the reader rejects a segment that is not 4 KiB aligned") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<SegmentInfo> table(1);
  table[0] = {8192 + 8, 16, 16, Codec::None, 0, 0};
  write_raw_artifact(path, build_metadata(table), 3 * 4096);
  CHECK_THAT(open_fails(path).message(), ContainsSubstring("is not 4096-byte aligned"));
}

TEST_CASE("the reader rejects overlapping segments") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<SegmentInfo> table(2);
  table[0] = {8192, 100, 100, Codec::None, 0, 0};
  table[1] = {4096, 4097, 4097, Codec::None, 0, 0};
  write_raw_artifact(path, build_metadata(table), 3 * 4096);
  CHECK_THAT(open_fails(path).message(), ContainsSubstring("segment 1 [4096, 8193) overlaps segment 0"));
}

TEST_CASE("the reader rejects a segment that overlaps the metadata") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<SegmentInfo> table(1);
  table[0] = {0, 16, 16, Codec::None, 0, 0};
  write_raw_artifact(path, build_metadata(table), 2 * 4096);
  CHECK_THAT(open_fails(path).message(), ContainsSubstring("starts before the metadata ends"));
}

TEST_CASE("the reader rejects an uncompressed segment whose raw and stored sizes differ") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<SegmentInfo> table(1);
  table[0] = {4096, 16, 32, Codec::None, 0, 0};
  write_raw_artifact(path, build_metadata(table), 2 * 4096);
  CHECK_THAT(open_fails(path).message(), ContainsSubstring("raw and stored sizes must be equal"));
}

TEST_CASE("the reader rejects a zstd segment claiming an impossible raw size") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<SegmentInfo> table(1);
  table[0] = {4096, 10, uint64_t{1} << 40, Codec::Zstd, 3, 0};
  write_raw_artifact(path, build_metadata(table), 2 * 4096);
  CHECK_THAT(open_fails(path).message(), ContainsSubstring("more raw bytes than zstd can produce"));
}

TEST_CASE("the reader rejects a segment with an unknown codec") {
  TempDir dir;
  const auto path = dir / "m.dse";
  std::vector<SegmentInfo> table(1);
  table[0] = {4096, 16, 16, static_cast<Codec>(9), 0, 0};
  write_raw_artifact(path, build_metadata(table), 2 * 4096);
  const auto s = open_fails(path);
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_THAT(s.message(), ContainsSubstring("uses codec 9") && ContainsSubstring("upgrade the runtime"));
}

TEST_CASE("one flipped bit inside a segment fails that segment's verification only") {
  TempDir dir;
  const auto path = dir / "m.dse";
  const auto infos = write_sample(path);
  flip_bit(path, infos[1].offset + infos[1].stored_size / 2, 5);

  auto reader = ArtifactReader::open(path);  // contents are not hashed at open
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  CHECK(reader->verify_segment(0).ok());
  CHECK(reader->verify_segment(2).ok());
  const dse::Status s = reader->verify_segment(1);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("segment 1 of") && ContainsSubstring("is corrupt: its xxHash64 is"));
  CHECK_FALSE(reader->verify_all_segments().ok());
  std::vector<std::byte> dst(infos[1].raw_size);
  CHECK_THAT(reader->read_segment(1, dst).message(), ContainsSubstring("is corrupt"));
}

TEST_CASE("a flipped bit in an uncompressed segment fails read_segment") {
  TempDir dir;
  const auto path = dir / "m.dse";
  const auto infos = write_sample(path);
  flip_bit(path, infos[0].offset + 17, 0);
  auto reader = ArtifactReader::open(path);
  REQUIRE(reader.ok());
  std::vector<std::byte> dst(infos[0].raw_size);
  CHECK(reader->read_segment(0, dst).code() == StatusCode::corrupt_data);
}

TEST_CASE("read_segment rejects a destination of the wrong size") {
  TempDir dir;
  const auto path = dir / "m.dse";
  const auto infos = write_sample(path);
  auto reader = ArtifactReader::open(path);
  REQUIRE(reader.ok());
  std::vector<std::byte> dst(infos[1].raw_size - 1);
  const dse::Status s = reader->read_segment(1, dst);
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_THAT(s.message(), ContainsSubstring("decodes to " + std::to_string(infos[1].raw_size) +
                                            " bytes, the destination holds " + std::to_string(dst.size())));
}

TEST_CASE("zstd data that decodes to a different size than recorded is rejected") {
  TempDir dir;
  const auto good = dir / "good.dse";
  const auto infos = write_sample(good);
  // Same file, but the table claims one byte less for the zstd segment; checksums still match.
  auto table = infos;
  table[1].raw_size -= 1;
  auto bytes = read_file(good);
  const auto metadata = build_metadata(table);
  const ArtifactHeader h = decode_header(std::span<const uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  REQUIRE(metadata.size() == h.metadata_size);
  const auto path = dir / "m.dse";
  write_raw_artifact(path, metadata, bytes.size());
  for (const auto& info : infos) {
    patch_file(path, info.offset, std::span<const uint8_t>(bytes.data() + info.offset, info.stored_size));
  }
  auto reader = ArtifactReader::open(path);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  std::vector<std::byte> dst(table[1].raw_size);
  const dse::Status s = reader->read_segment(1, dst);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("decodes to more than the"));
}

TEST_CASE("an out-of-range segment index is an error, not a crash") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  auto reader = ArtifactReader::open(path);
  REQUIRE(reader.ok());
  CHECK(reader->segment_bytes(3).status().code() == StatusCode::out_of_range);
  CHECK_THAT(reader->verify_segment(99).message(), ContainsSubstring("has 3 segments"));
}

TEST_CASE("a moved reader keeps its mapping valid") {
  TempDir dir;
  const auto path = dir / "m.dse";
  write_sample(path);
  auto opened = ArtifactReader::open(path);
  REQUIRE(opened.ok());
  ArtifactReader reader = std::move(opened).value();
  CHECK(reader.metadata()->producer()->str() == "dse formats unit test");
  CHECK(reader.verify_all_segments().ok());
}
