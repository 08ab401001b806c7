// The writer's failure paths: each returns a clear error and leaves no file behind.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <csignal>
#include <filesystem>

#include <sys/resource.h>

#include "artifact_test_support.h"
#include "dse/formats/artifact_reader.h"
#include "dse/formats/artifact_writer.h"
#include "dse/formats/segment_table.h"

using namespace dse::formats;
using namespace dse::formats::test;
using Catch::Matchers::ContainsSubstring;
using dse::StatusCode;
using dse::fb::Codec;

namespace {

// Lowers the file size limit of this process so that writes past `bytes` fail with EFBIG, the
// way a full disk fails with ENOSPC; restores the limit and SIGXFSZ on destruction.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    saved_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills the process
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, saved_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  void (*saved_handler_)(int) = SIG_DFL;
  bool ok_ = false;
};

}  // namespace

TEST_CASE("a failed write returns the path and the reason and leaves no file") {
  TempDir dir;
  dse::Status failure;
  {
    FileSizeLimit limit(1 << 20);
    REQUIRE(limit.ok());
    auto writer = ArtifactWriter::create(dir / "m.dse", 4096);
    REQUIRE(writer.ok());
    failure = writer->write_segment(pattern_bytes(2 << 20, 1), Codec::None).status();
    // Every later call reports the same failure.
    CHECK(writer->finish(build_metadata({})).message() == failure.message());
  }
  CHECK(failure.code() == StatusCode::io_error);
  CHECK_THAT(failure.message(), ContainsSubstring("m.dse.tmp.") && ContainsSubstring("File too large"));
  CHECK(dir.entries().empty());
}

TEST_CASE("the writer keeps its bytes in a temporary file until finish") {
  TempDir dir;
  const auto path = dir / "m.dse";
  auto writer = ArtifactWriter::create(path, build_metadata(placeholder_segments(1)).size());
  REQUIRE(writer.ok());
  auto info = writer->write_segment(pattern_bytes(100, 1), Codec::None);
  REQUIRE(info.ok());
  const auto entries = dir.entries();
  REQUIRE(entries.size() == 1);
  CHECK_THAT(entries[0], ContainsSubstring("m.dse.tmp."));
  REQUIRE(writer->finish(build_metadata(std::vector<SegmentInfo>{*info})).ok());
  CHECK(dir.entries() == std::vector<std::string>{"m.dse"});
}

TEST_CASE("finish with metadata larger than the reserved capacity fails and leaves no file") {
  TempDir dir;
  const auto path = dir / "m.dse";
  auto writer = ArtifactWriter::create(path, 64);
  REQUIRE(writer.ok());
  auto info = writer->write_segment(pattern_bytes(100, 1), Codec::None);
  REQUIRE(info.ok());
  const auto metadata = build_metadata(std::vector<SegmentInfo>{*info});
  const dse::Status s = writer->finish(metadata);
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_THAT(s.message(), ContainsSubstring("is " + std::to_string(metadata.size()) +
                                            " bytes, but create() reserved only 64"));
  CHECK(dir.entries().empty());
  // The writer stays failed: a second attempt returns the same error.
  CHECK(writer->finish(metadata).message() == s.message());
}

TEST_CASE("a writer in a missing directory fails with the path and the reason") {
  TempDir dir;
  const auto path = dir / "no" / "such" / "dir" / "m.dse";
  auto writer = ArtifactWriter::create(path, 1024);
  REQUIRE_FALSE(writer.ok());
  CHECK(writer.status().code() == StatusCode::not_found);
  CHECK_THAT(writer.status().message(), ContainsSubstring(path.string()) && ContainsSubstring("No such file"));
  CHECK(dir.entries().empty());
}

TEST_CASE("a writer whose output path is a directory fails at finish and leaves no temporary file") {
  TempDir dir;
  const auto path = dir / "taken";
  std::filesystem::create_directory(path);
  std::filesystem::create_directory(path / "inside");  // a non-empty directory cannot be renamed over
  auto writer = ArtifactWriter::create(path, build_metadata({}).size());
  REQUIRE(writer.ok());
  const dse::Status s = writer->finish(build_metadata({}));
  CHECK(s.code() == StatusCode::io_error);
  CHECK_THAT(s.message(), ContainsSubstring("cannot rename"));
  CHECK(dir.entries() == std::vector<std::string>{"taken"});
}

TEST_CASE("a writer destroyed before finish leaves no file") {
  TempDir dir;
  {
    auto writer = ArtifactWriter::create(dir / "m.dse", 4096);
    REQUIRE(writer.ok());
    REQUIRE(writer->write_segment(pattern_bytes(10000, 1), Codec::Zstd, 3).ok());
    REQUIRE(writer->begin_segment(Codec::None).ok());  // even with a segment open
    REQUIRE(dir.entries().size() == 1);
  }
  CHECK(dir.entries().empty());
}

TEST_CASE("abort removes the temporary file and later calls fail") {
  TempDir dir;
  auto writer = ArtifactWriter::create(dir / "m.dse", 4096);
  REQUIRE(writer.ok());
  writer->abort();
  CHECK(dir.entries().empty());
  CHECK(writer->write_segment(pattern_bytes(10, 1), Codec::None).status().code() == StatusCode::cancelled);
}

TEST_CASE("finish rejects a segment table that differs from the segments written") {
  TempDir dir;
  auto writer = ArtifactWriter::create(dir / "m.dse", build_metadata(placeholder_segments(2)).size());
  REQUIRE(writer.ok());
  auto a = writer->write_segment(pattern_bytes(100, 1), Codec::None);
  auto b = writer->write_segment(pattern_bytes(100, 2), Codec::Zstd, 3);
  REQUIRE((a.ok() && b.ok()));
  SegmentInfo wrong = *b;
  wrong.checksum ^= 1;
  const dse::Status s = writer->finish(build_metadata(std::vector<SegmentInfo>{*a, wrong}));
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_THAT(s.message(), ContainsSubstring("segment 1 of") && ContainsSubstring("differs from what was written: checksum"));
  CHECK(dir.entries().empty());
}

TEST_CASE("finish rejects a segment table with the wrong number of segments") {
  TempDir dir;
  auto writer = ArtifactWriter::create(dir / "m.dse", build_metadata(placeholder_segments(2)).size());
  REQUIRE(writer.ok());
  auto a = writer->write_segment(pattern_bytes(100, 1), Codec::None);
  REQUIRE(a.ok());
  const dse::Status s = writer->finish(build_metadata({}));
  CHECK_THAT(s.message(), ContainsSubstring("lists 0 segments, 1 were written"));
  CHECK(dir.entries().empty());
}

TEST_CASE("finish rejects bytes that are not artifact metadata") {
  TempDir dir;
  auto writer = ArtifactWriter::create(dir / "m.dse", 4096);
  REQUIRE(writer.ok());
  const std::vector<uint8_t> junk(200, 0xab);
  const dse::Status s = writer->finish(junk);
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_THAT(s.message(), ContainsSubstring("expected 'DSE1'"));
  CHECK(dir.entries().empty());
}

TEST_CASE("the writer refuses a second segment while one is open") {
  TempDir dir;
  auto writer = ArtifactWriter::create(dir / "m.dse", 4096);
  REQUIRE(writer.ok());
  REQUIRE(writer->begin_segment(Codec::None).ok());
  const dse::Status s = writer->begin_segment(Codec::Zstd);
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_THAT(s.message(), ContainsSubstring("is still open: call end_segment()"));
  CHECK(dir.entries().empty());
}

TEST_CASE("the writer refuses a zstd level outside the library's range") {
  TempDir dir;
  auto writer = ArtifactWriter::create(dir / "m.dse", 4096);
  REQUIRE(writer.ok());
  const auto s = writer->write_segment(pattern_bytes(10, 1), Codec::Zstd, 1000).status();
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK_THAT(s.message(), ContainsSubstring("zstd level 1000 is outside"));
}

TEST_CASE("create refuses a zero metadata capacity") {
  TempDir dir;
  auto writer = ArtifactWriter::create(dir / "m.dse", 0);
  REQUIRE_FALSE(writer.ok());
  CHECK(writer.status().code() == StatusCode::invalid_argument);
  CHECK(dir.entries().empty());
}

TEST_CASE("the first segment starts on the first 4 KiB boundary after the reserved metadata") {
  CHECK(ArtifactWriter::first_segment_offset(1) == 4096);
  CHECK(ArtifactWriter::first_segment_offset(4096 - 64) == 4096);
  CHECK(ArtifactWriter::first_segment_offset(4096 - 63) == 8192);
}
