// ArtifactWriter: segments streamed to a temporary file, metadata and header written last,
// fsync and rename on success, removal on any failure.
#include "dse/formats/artifact_writer.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dse/formats/checksum.h"
#include "dse/formats/header.h"
#include "dse/formats/metadata.h"
#include "file_io.h"
#include "segment_codec.h"

namespace dse::formats {
namespace {

std::string codec_name(fb::Codec codec) {
  switch (codec) {
    case fb::Codec::None: return "None";
    case fb::Codec::Zstd: return "Zstd";
  }
  return "codec " + std::to_string(static_cast<int>(codec));
}

// Names the first field where the metadata's Segment differs from what was written.
std::optional<std::string> segment_mismatch(const fb::Segment& in_metadata, const SegmentInfo& written) {
  auto field = [](const char* name, uint64_t metadata_value, uint64_t written_value) {
    return std::string(name) + " " + std::to_string(metadata_value) + " in the metadata, " +
           std::to_string(written_value) + " written";
  };
  if (in_metadata.offset() != written.offset) return field("offset", in_metadata.offset(), written.offset);
  if (in_metadata.stored_size() != written.stored_size)
    return field("stored_size", in_metadata.stored_size(), written.stored_size);
  if (in_metadata.raw_size() != written.raw_size) return field("raw_size", in_metadata.raw_size(), written.raw_size);
  if (in_metadata.codec() != written.codec)
    return "codec " + codec_name(in_metadata.codec()) + " in the metadata, " + codec_name(written.codec) + " written";
  if (in_metadata.codec_level() != written.codec_level)
    return "codec_level " + std::to_string(in_metadata.codec_level()) + " in the metadata, " +
           std::to_string(written.codec_level) + " written";
  if (in_metadata.checksum() != written.checksum)
    return "checksum " + detail::hex64(in_metadata.checksum()) + " in the metadata, " +
           detail::hex64(written.checksum) + " written";
  return std::nullopt;
}

}  // namespace

struct ArtifactWriter::Impl {
  std::filesystem::path path;
  std::filesystem::path tmp_path;
  int fd = -1;
  uint64_t capacity = 0;         // bytes reserved for the metadata
  uint64_t end_offset = 0;       // bytes: end of the last segment (or of the reserved metadata)
  std::vector<SegmentInfo> segments;
  Status error;                  // the first error; every later call returns it
  bool finished = false;

  bool segment_open = false;
  SegmentInfo current;           // the open segment; stored/raw sizes grow as data comes
  Xxhash64Stream hash;           // over the stored bytes of the open segment
  detail::ZstdEncoder zstd;

  ~Impl() { remove_file(); }

  void remove_file() {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    if (!finished && !tmp_path.empty()) {
      ::unlink(tmp_path.c_str());
      tmp_path.clear();
    }
  }

  // Records `status` as the writer's error and removes the temporary file.
  Status fail(Status status) {
    if (error.ok()) error = std::move(status);
    remove_file();
    return error;
  }

  Status usable() const {
    if (!error.ok()) return error;
    if (finished) {
      return Status(StatusCode::invalid_argument,
                    "the artifact '" + path.string() + "' is already finished; create a new writer for another file");
    }
    return Status::Ok();
  }

  std::string segment_name() const {
    return "segment " + std::to_string(segments.size()) + " of '" + path.string() + "'";
  }

  // Appends stored bytes of the open segment to the file.
  Status write_stored(std::span<const std::byte> bytes) {
    DSE_RETURN_IF_ERROR(
        detail::write_all_at(fd, bytes.data(), bytes.size(), current.offset + current.stored_size, tmp_path));
    hash.update(bytes);
    current.stored_size += bytes.size();
    return Status::Ok();
  }

  Status begin(fb::Codec codec, int level, std::optional<uint64_t> pledged_size) {
    DSE_RETURN_IF_ERROR(usable());
    if (segment_open) {
      return fail(Status(StatusCode::invalid_argument,
                         segment_name() + " is still open: call end_segment() before starting another"));
    }
    if (codec != fb::Codec::None && codec != fb::Codec::Zstd) {
      return fail(Status(StatusCode::invalid_argument,
                         segment_name() + ": unknown codec " + std::to_string(static_cast<int>(codec)) +
                             "; expected Codec::None or Codec::Zstd"));
    }
    if (codec == fb::Codec::Zstd && (level < detail::zstd_min_level() || level > detail::zstd_max_level())) {
      return fail(Status(StatusCode::invalid_argument,
                         segment_name() + ": zstd level " + std::to_string(level) + " is outside [" +
                             std::to_string(detail::zstd_min_level()) + ", " +
                             std::to_string(detail::zstd_max_level()) + "]; 3 is a good default"));
    }
    current = SegmentInfo{};
    current.offset = align_up(end_offset, kSegmentAlignment);
    current.codec = codec;
    current.codec_level = codec == fb::Codec::Zstd ? level : 0;
    hash.reset();
    if (codec == fb::Codec::Zstd) {
      Status s = zstd.begin(level, pledged_size);
      if (!s.ok()) return fail(std::move(s));
    }
    segment_open = true;
    return Status::Ok();
  }

  Status append(std::span<const std::byte> data) {
    DSE_RETURN_IF_ERROR(usable());
    if (!segment_open) {
      return fail(Status(StatusCode::invalid_argument, "append() without begin_segment() on '" + path.string() + "'"));
    }
    Status s;
    if (current.codec == fb::Codec::None) {
      s = write_stored(data);
    } else {
      s = zstd.compress(data, false, [this](std::span<const std::byte> out) { return write_stored(out); });
    }
    if (!s.ok()) return fail(std::move(s));
    current.raw_size += data.size();
    return Status::Ok();
  }

  Status append_zeros(uint64_t count) {
    DSE_RETURN_IF_ERROR(usable());
    if (!segment_open) {
      return fail(Status(StatusCode::invalid_argument,
                         "append_zeros() without begin_segment() on '" + path.string() + "'"));
    }
    if (current.codec == fb::Codec::None) {
      // Nothing is written: the range becomes a hole that reads back as zeros. finish() sets the
      // file size, so a hole at the very end is covered too.
      hash.update_zeros(count);
      current.stored_size += count;
      current.raw_size += count;
      return Status::Ok();
    }
    static constexpr std::array<std::byte, 64 * 1024> kZeros{};
    while (count > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(count, kZeros.size()));
      DSE_RETURN_IF_ERROR(append(std::span<const std::byte>(kZeros.data(), n)));
      count -= n;
    }
    return Status::Ok();
  }

  Result<SegmentInfo> end() {
    DSE_RETURN_IF_ERROR(usable());
    if (!segment_open) {
      return fail(Status(StatusCode::invalid_argument, "end_segment() without begin_segment() on '" + path.string() + "'"));
    }
    if (current.codec == fb::Codec::Zstd) {
      Status s = zstd.compress({}, true, [this](std::span<const std::byte> out) { return write_stored(out); });
      if (!s.ok()) return fail(std::move(s));
    }
    current.checksum = hash.digest();
    segment_open = false;
    end_offset = current.offset + current.stored_size;
    segments.push_back(current);
    return current;
  }

  Status check_segment_table(const fb::Artifact& artifact) const {
    const auto* table = artifact.segments();
    const size_t count = table ? table->size() : 0;
    if (count != segments.size()) {
      return Status(StatusCode::invalid_argument,
                    "the metadata for '" + path.string() + "' lists " + std::to_string(count) + " segments, " +
                        std::to_string(segments.size()) +
                        " were written; build the segment table from the SegmentInfos the writer returned");
    }
    for (size_t i = 0; i < count; ++i) {
      const fb::Segment* s = table->Get(static_cast<flatbuffers::uoffset_t>(i));
      if (s == nullptr) {
        return Status(StatusCode::invalid_argument,
                      "the metadata for '" + path.string() + "' has no table for segment " + std::to_string(i));
      }
      if (auto why = segment_mismatch(*s, segments[i])) {
        return Status(StatusCode::invalid_argument,
                      "segment " + std::to_string(i) + " of '" + path.string() + "' differs from what was written: " +
                          *why + "; build the segment table from the SegmentInfos the writer returned");
      }
    }
    return Status::Ok();
  }

  Status finish(std::span<const uint8_t> metadata) {
    DSE_RETURN_IF_ERROR(usable());
    if (segment_open) {
      return fail(Status(StatusCode::invalid_argument, segment_name() + " is still open: call end_segment() before finish()"));
    }
    if (metadata.size() > capacity) {
      return fail(Status(StatusCode::invalid_argument,
                         "the metadata for '" + path.string() + "' is " + std::to_string(metadata.size()) +
                             " bytes, but create() reserved only " + std::to_string(capacity) +
                             "; measure it with placeholder_segments() and force_defaults(true) and pass "
                             "that size (or more) to create()"));
    }
    Status verified = verify_metadata(metadata, "metadata passed to ArtifactWriter::finish for '" + path.string() + "'");
    if (!verified.ok()) return fail(Status(StatusCode::invalid_argument, verified.message()));
    const fb::Artifact* artifact = fb::GetArtifact(metadata.data());
    Status table = check_segment_table(*artifact);
    if (!table.ok()) return fail(std::move(table));

    ArtifactHeader header;
    header.metadata_offset = kHeaderSize;
    header.metadata_size = metadata.size();
    header.file_size = end_offset;
    header.metadata_checksum = xxhash64(metadata);
    const HeaderBytes header_bytes = encode_header(header);

    Status s = detail::write_all_at(fd, metadata.data(), metadata.size(), kHeaderSize, tmp_path);
    if (s.ok()) s = detail::write_all_at(fd, header_bytes.data(), header_bytes.size(), 0, tmp_path);
    // Sets the size when the last segment ends in a hole (append_zeros) that was never written.
    if (s.ok() && ::ftruncate(fd, static_cast<off_t>(end_offset)) != 0) {
      s = detail::errno_status("cannot set the size of", tmp_path, errno);
    }
    // The data must be on disk before the rename makes it visible under the final name;
    // otherwise a crash could leave a complete-looking file with missing blocks.
    if (s.ok() && ::fsync(fd) != 0) s = detail::errno_status("cannot fsync", tmp_path, errno);
    if (s.ok()) {
      const int rc = ::close(fd);
      fd = -1;
      if (rc != 0) s = detail::errno_status("cannot close", tmp_path, errno);
    }
    if (s.ok() && ::rename(tmp_path.c_str(), path.c_str()) != 0) {
      s = detail::errno_status("cannot rename '" + tmp_path.string() + "' to", path, errno);
    }
    if (!s.ok()) return fail(std::move(s));
    finished = true;
    tmp_path.clear();
    Status synced = detail::sync_parent_directory(path);
    if (!synced.ok()) {
      return Status(synced.code(), "'" + path.string() + "' is complete, but " + synced.message() +
                                       "; a power loss now could lose the rename");
    }
    return Status::Ok();
  }
};

ArtifactWriter::ArtifactWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ArtifactWriter::ArtifactWriter(ArtifactWriter&& other) noexcept = default;
ArtifactWriter& ArtifactWriter::operator=(ArtifactWriter&& other) noexcept = default;
ArtifactWriter::~ArtifactWriter() = default;  // Impl's destructor removes an unfinished file

uint64_t ArtifactWriter::first_segment_offset(uint64_t metadata_capacity_bytes) {
  return align_up(kHeaderSize + metadata_capacity_bytes, kSegmentAlignment);
}

Result<ArtifactWriter> ArtifactWriter::create(const std::filesystem::path& path, uint64_t metadata_capacity_bytes) {
  if (path.empty()) return Status(StatusCode::invalid_argument, "artifact path is empty; pass the output file name");
  if (metadata_capacity_bytes == 0 || metadata_capacity_bytes > kMetadataMaxBytes) {
    return Status(StatusCode::invalid_argument,
                  "metadata capacity for '" + path.string() + "' is " + std::to_string(metadata_capacity_bytes) +
                      " bytes; expected 1 to " + std::to_string(kMetadataMaxBytes) +
                      " (the size of the metadata built with placeholder segments)");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->capacity = metadata_capacity_bytes;
  impl->end_offset = first_segment_offset(metadata_capacity_bytes);
  std::filesystem::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid());
  // O_EXCL: never truncate a file someone else is writing; a stale one from a crashed run with
  // the same pid is reported instead of silently reused.
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd < 0) {
    const int err = errno;
    if (err == EEXIST) {
      return Status(StatusCode::io_error,
                    "cannot create '" + tmp.string() +
                        "': it already exists (another writer of the same output, or left by a crashed "
                        "run); remove it and try again");
    }
    return detail::errno_status("cannot create the artifact", tmp, err);
  }
  impl->fd = fd;
  impl->tmp_path = tmp;
  return ArtifactWriter(std::move(impl));
}

namespace {
Status moved_from() {
  return Status(StatusCode::invalid_argument, "this ArtifactWriter was moved from; use the one it was moved to");
}
}  // namespace

Result<SegmentInfo> ArtifactWriter::write_segment(std::span<const std::byte> data, fb::Codec codec, int level) {
  if (!impl_) return moved_from();
  DSE_RETURN_IF_ERROR(impl_->begin(codec, level, data.size()));
  DSE_RETURN_IF_ERROR(impl_->append(data));
  return impl_->end();
}

Status ArtifactWriter::begin_segment(fb::Codec codec, int level) {
  if (!impl_) return moved_from();
  return impl_->begin(codec, level, std::nullopt);
}

Status ArtifactWriter::append(std::span<const std::byte> data) {
  if (!impl_) return moved_from();
  return impl_->append(data);
}

Status ArtifactWriter::append_zeros(uint64_t bytes) {
  if (!impl_) return moved_from();
  return impl_->append_zeros(bytes);
}

Result<SegmentInfo> ArtifactWriter::end_segment() {
  if (!impl_) return moved_from();
  return impl_->end();
}

Status ArtifactWriter::finish(std::span<const uint8_t> metadata) {
  if (!impl_) return moved_from();
  return impl_->finish(metadata);
}

void ArtifactWriter::abort() {
  if (!impl_) return;
  if (!impl_->finished && impl_->error.ok()) {
    impl_->error = Status(StatusCode::cancelled, "the artifact '" + impl_->path.string() + "' was aborted");
  }
  impl_->remove_file();
}

const std::vector<SegmentInfo>& ArtifactWriter::segments() const {
  static const std::vector<SegmentInfo> kNone;
  return impl_ ? impl_->segments : kNone;
}

uint64_t ArtifactWriter::metadata_capacity() const { return impl_ ? impl_->capacity : 0; }

}  // namespace dse::formats
