// An artifact past 4 GiB, kept cheap: the big segment is a hole (append_zeros on an uncompressed
// segment), so the test writes a few kilobytes and hashes zeros instead of touching a disk.
#include <catch2/catch_test_macros.hpp>

#include <sys/stat.h>

#include "artifact_test_support.h"
#include "dse/formats/artifact_reader.h"
#include "dse/formats/artifact_writer.h"
#include "dse/formats/segment_table.h"

using namespace dse::formats;
using namespace dse::formats::test;
using dse::fb::Codec;

TEST_CASE("segment offsets and sizes past 4 GiB survive a write and a read") {
  TempDir dir;
  const auto path = dir / "large.dse";
  constexpr uint64_t kFourGiB = uint64_t{1} << 32;
  constexpr uint64_t kHoleBytes = kFourGiB + 12345;  // not page aligned, so padding follows it

  auto writer = ArtifactWriter::create(path, build_metadata(placeholder_segments(3)).size());
  REQUIRE(writer.ok());
  std::vector<SegmentInfo> infos;
  REQUIRE(writer->begin_segment(Codec::None).ok());
  REQUIRE(writer->append_zeros(kHoleBytes).ok());
  auto big = writer->end_segment();
  REQUIRE(big.ok());
  infos.push_back(*big);
  const auto after = pattern_bytes(50000, 11);
  auto plain = writer->write_segment(after, Codec::None);
  REQUIRE(plain.ok());
  infos.push_back(*plain);
  const auto packed = compressible_bytes(200000);
  auto zstd = writer->write_segment(packed, Codec::Zstd, 3);
  REQUIRE(zstd.ok());
  infos.push_back(*zstd);
  const dse::Status finished = writer->finish(build_metadata(infos));
  INFO(finished.message());
  REQUIRE(finished.ok());

  CHECK(infos[0].stored_size == kHoleBytes);
  CHECK(infos[1].offset > kFourGiB);
  CHECK(infos[1].offset % 4096 == 0);
  CHECK(infos[2].offset > infos[1].offset);

  auto reader = ArtifactReader::open(path);
  INFO(reader.status().message());
  REQUIRE(reader.ok());
  CHECK(reader->header().file_size > kFourGiB);
  CHECK(reader->segments() == infos);
  // Only the small segments are read back: reading the hole would fault in 4 GiB of page cache.
  std::vector<std::byte> out(after.size());
  REQUIRE(reader->read_segment(1, out).ok());
  CHECK(out == after);
  std::vector<std::byte> unpacked(packed.size());
  REQUIRE(reader->read_segment(2, unpacked).ok());
  CHECK(unpacked == packed);

  // The file is sparse: far less disk is allocated than its size.
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(static_cast<uint64_t>(st.st_size) > kFourGiB);
  CHECK(static_cast<uint64_t>(st.st_blocks) * 512 < (uint64_t{64} << 20));
}
