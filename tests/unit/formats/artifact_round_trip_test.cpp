// Writing an artifact and reading it back: metadata, segments of both codecs, streaming.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <cstring>

#include "artifact_test_support.h"
#include "dse/formats/artifact_reader.h"
#include "dse/formats/artifact_writer.h"
#include "dse/formats/segment_table.h"

using namespace dse::formats;
using namespace dse::formats::test;
using dse::fb::Codec;

namespace {

std::span<const std::byte> bytes_of(const std::vector<std::byte>& v) { return v; }

// Reads segment `i` through read_segment into a fresh buffer of its raw size.
std::vector<std::byte> read_back(const ArtifactReader& reader, size_t i) {
  std::vector<std::byte> out(reader.segments()[i].raw_size);
  const dse::Status s = reader.read_segment(i, out);
  INFO(s.message());
  REQUIRE(s.ok());
  return out;
}

uint64_t placeholder_capacity(size_t segment_count, size_t vocab_size = 8) {
  return build_metadata(placeholder_segments(segment_count), vocab_size).size();
}

}  // namespace

TEST_CASE("an artifact with metadata and None and zstd segments reads back byte for byte") {
  TempDir dir;
  const auto path = dir / "model.dse";
  const std::vector<std::vector<std::byte>> tensors = {
      pattern_bytes(10000, 1),          // None, not a multiple of 4 KiB
      compressible_bytes(300000),       // zstd, compresses well
      pattern_bytes(4096, 2),           // None, exactly one page
      pattern_bytes(70000, 3),          // zstd, barely compressible
      {},                               // an empty None segment
  };
  const Codec codecs[] = {Codec::None, Codec::Zstd, Codec::None, Codec::Zstd, Codec::None};

  auto writer = ArtifactWriter::create(path, placeholder_capacity(tensors.size(), 100));
  REQUIRE(writer.ok());
  std::vector<SegmentInfo> infos;
  for (size_t i = 0; i < tensors.size(); ++i) {
    auto info = writer->write_segment(bytes_of(tensors[i]), codecs[i], 5);
    INFO(info.status().message());
    REQUIRE(info.ok());
    infos.push_back(*info);
  }
  CHECK(infos[1].stored_size < infos[1].raw_size / 10);
  CHECK(infos[1].codec_level == 5);
  CHECK(infos[0].codec_level == 0);
  const std::vector<uint8_t> metadata = build_metadata(infos, 100);
  const dse::Status finished = writer->finish(metadata);
  INFO(finished.message());
  REQUIRE(finished.ok());
  CHECK(dir.entries() == std::vector<std::string>{"model.dse"});

  auto reader = ArtifactReader::open(path);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  CHECK(reader->header().format_major == 1);
  CHECK(reader->header().file_size == std::filesystem::file_size(path));
  REQUIRE(reader->metadata() != nullptr);
  CHECK(reader->metadata()->producer()->str() == "dse formats unit test");
  CHECK(reader->metadata()->target()->name()->str() == "cpu");
  CHECK(reader->metadata()->tokenizer()->vocab()->size() == 100);
  CHECK(reader->metadata()->tokenizer()->vocab()->Get(99)->str() == "tok99");
  const auto md = reader->metadata_bytes();
  CHECK(std::vector<uint8_t>(md.begin(), md.end()) == metadata);

  REQUIRE(reader->segment_count() == tensors.size());
  CHECK(reader->segments() == infos);
  CHECK(reader->verify_all_segments().ok());
  for (size_t i = 0; i < tensors.size(); ++i) {
    CHECK(reader->segments()[i].offset % 4096 == 0);
    CHECK(read_back(*reader, i) == tensors[i]);
  }
  // An uncompressed segment is usable in place from the mapping.
  auto in_place = reader->segment_bytes(0);
  REQUIRE(in_place.ok());
  CHECK(std::memcmp(in_place->data(), tensors[0].data(), tensors[0].size()) == 0);
}

TEST_CASE("a segment streamed in chunks reads back the same as the data it was given") {
  TempDir dir;
  const auto path = dir / "streamed.dse";
  const auto data = pattern_bytes(1 << 20, 7);
  const auto ramp = compressible_bytes(1 << 20);
  auto writer = ArtifactWriter::create(path, placeholder_capacity(3));
  REQUIRE(writer.ok());

  std::vector<SegmentInfo> infos;
  for (Codec codec : {Codec::None, Codec::Zstd}) {
    const auto& src = codec == Codec::None ? data : ramp;
    REQUIRE(writer->begin_segment(codec, 3).ok());
    for (size_t pos = 0; pos < src.size(); pos += 100000) {
      const size_t n = std::min<size_t>(100000, src.size() - pos);
      REQUIRE(writer->append(std::span<const std::byte>(src.data() + pos, n)).ok());
    }
    auto info = writer->end_segment();
    REQUIRE(info.ok());
    CHECK(info->raw_size == src.size());
    infos.push_back(*info);
  }
  // Zeros in the middle of a zstd segment and at the end of an uncompressed one (a hole).
  REQUIRE(writer->begin_segment(Codec::None).ok());
  REQUIRE(writer->append(std::span<const std::byte>(data.data(), 5000)).ok());
  REQUIRE(writer->append_zeros(3 * 4096 + 11).ok());
  auto tail = writer->end_segment();
  REQUIRE(tail.ok());
  infos.push_back(*tail);
  REQUIRE(writer->finish(build_metadata(infos)).ok());

  auto reader = ArtifactReader::open(path);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  CHECK(reader->verify_all_segments().ok());
  CHECK(read_back(*reader, 0) == data);
  CHECK(read_back(*reader, 1) == ramp);
  std::vector<std::byte> expected_tail(5000 + 3 * 4096 + 11, std::byte{0});
  std::copy_n(data.begin(), 5000, expected_tail.begin());
  CHECK(read_back(*reader, 2) == expected_tail);
  // The file ends exactly where the trailing hole ends.
  CHECK(std::filesystem::file_size(path) == infos[2].offset + infos[2].stored_size);
}

TEST_CASE("zeros appended to a zstd segment compress and read back as zeros") {
  TempDir dir;
  const auto path = dir / "zeros.dse";
  auto writer = ArtifactWriter::create(path, placeholder_capacity(1));
  REQUIRE(writer.ok());
  REQUIRE(writer->begin_segment(Codec::Zstd, 1).ok());
  REQUIRE(writer->append_zeros(10 << 20).ok());
  auto info = writer->end_segment();
  REQUIRE(info.ok());
  CHECK(info->raw_size == (10u << 20));
  CHECK(info->stored_size < 64 * 1024);
  REQUIRE(writer->finish(build_metadata(std::vector<SegmentInfo>{*info})).ok());
  auto reader = ArtifactReader::open(path);
  REQUIRE(reader.ok());
  const auto out = read_back(*reader, 0);
  CHECK(std::all_of(out.begin(), out.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE("metadata measured with placeholder segments has exactly the final size") {
  std::vector<SegmentInfo> real(3);
  real[0] = {4096, 10, 10, Codec::None, 0, 0};  // zeros and None: defaults that force_defaults keeps
  real[1] = {8192, 100, 5000, Codec::Zstd, 3, 0xabcdef};
  real[2] = {12288, 0, 0, Codec::None, 0, 0};
  CHECK(build_metadata(real).size() == build_metadata(placeholder_segments(3)).size());
}

TEST_CASE("an artifact without segments is valid") {
  TempDir dir;
  const auto path = dir / "empty.dse";
  auto writer = ArtifactWriter::create(path, placeholder_capacity(0));
  REQUIRE(writer.ok());
  REQUIRE(writer->finish(build_metadata({})).ok());
  auto reader = ArtifactReader::open(path);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  CHECK(reader->segment_count() == 0);
  CHECK(reader->verify_all_segments().ok());
}

TEST_CASE("finishing replaces an existing file at the same path") {
  TempDir dir;
  const auto path = dir / "model.dse";
  write_file(path, std::vector<uint8_t>{'o', 'l', 'd'});
  auto writer = ArtifactWriter::create(path, placeholder_capacity(0));
  REQUIRE(writer.ok());
  REQUIRE(writer->finish(build_metadata({})).ok());
  CHECK(ArtifactReader::open(path).ok());
  CHECK(dir.entries() == std::vector<std::string>{"model.dse"});
}

TEST_CASE("metadata with a 130k-token vocabulary passes verification") {
  TempDir dir;
  const auto path = dir / "vocab.dse";
  const auto metadata = build_metadata({}, 130000);
  auto writer = ArtifactWriter::create(path, metadata.size());
  REQUIRE(writer.ok());
  const dse::Status finished = writer->finish(metadata);
  INFO(finished.message());
  REQUIRE(finished.ok());
  auto reader = ArtifactReader::open(path);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  CHECK(reader->metadata()->tokenizer()->vocab()->size() == 130000);
}
