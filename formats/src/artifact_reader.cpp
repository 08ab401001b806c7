// ArtifactReader: mmap, then the checks of docs/FORMAT.md in their documented order, each with
// its own message; segment checksums and decoding on request.
#include "dse/formats/artifact_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dse/formats/checksum.h"
#include "dse/formats/metadata.h"
#include "file_io.h"
#include "segment_codec.h"

namespace dse::formats {
namespace {

// zstd cannot expand data by more than this (a 3-byte RLE block header stands for at most
// 128 KiB); a raw_size beyond it means the table is corrupt, caught before anyone allocates it.
constexpr uint64_t kMaxZstdExpansion = (128 * 1024) / 3 + 1;

std::string quoted(const std::filesystem::path& path) {
  // Built with append rather than "'" + s + "'", which trips a GCC 12 -Wrestrict false positive.
  std::string out(1, '\'');
  out.append(path.string());
  out.push_back('\'');
  return out;
}

Status corrupt(const std::filesystem::path& path, const std::string& what) {
  return Status(StatusCode::corrupt_data, quoted(path) + ": " + what);
}

std::string describe_magic(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  std::string text;
  for (uint8_t b : bytes) {
    if (!hex.empty()) hex += ' ';
    hex += kHex[b >> 4];
    hex += kHex[b & 0xf];
    text += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
  }
  return hex + " (\"" + text + "\")";
}

std::string segment_name(size_t i, const std::filesystem::path& path) {
  return "segment " + std::to_string(i) + " of " + quoted(path);
}

Status checksum_mismatch(size_t i, const std::filesystem::path& path, uint64_t expected, uint64_t found) {
  return Status(StatusCode::corrupt_data,
                segment_name(i, path) + " is corrupt: its xxHash64 is " + detail::hex64(found) +
                    ", the segment table records " + detail::hex64(expected) +
                    "; the file was damaged on disk or in transfer: copy or recompile it");
}

}  // namespace

ArtifactReader::ArtifactReader(ArtifactReader&& other) noexcept
    : path_(std::move(other.path_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      header_(other.header_),
      metadata_(std::exchange(other.metadata_, nullptr)),
      segments_(std::move(other.segments_)) {}

ArtifactReader& ArtifactReader::operator=(ArtifactReader&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    base_ = std::exchange(other.base_, nullptr);
    size_ = std::exchange(other.size_, 0);
    header_ = other.header_;
    metadata_ = std::exchange(other.metadata_, nullptr);
    segments_ = std::move(other.segments_);
  }
  return *this;
}

ArtifactReader::~ArtifactReader() { unmap(); }

void ArtifactReader::unmap() {
  if (base_ != nullptr) ::munmap(const_cast<std::byte*>(base_), size_);
  base_ = nullptr;
  size_ = 0;
  metadata_ = nullptr;
}

Result<ArtifactReader> ArtifactReader::open(const std::filesystem::path& path) {
  ArtifactReader reader;
  reader.path_ = path;

  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return detail::errno_status("cannot open the artifact", path, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return detail::errno_status("cannot stat the artifact", path, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status(StatusCode::invalid_argument, quoted(path) + " is not a regular file; pass a .dse file");
  }
  const uint64_t real_size = static_cast<uint64_t>(st.st_size);

  // 1. Long enough to hold a header.
  if (real_size < kHeaderSize) {
    ::close(fd);
    return corrupt(path, "the file is " + std::to_string(real_size) + " bytes, shorter than the " +
                             std::to_string(kHeaderSize) +
                             "-byte artifact header: it is truncated or not an artifact; copy it again or "
                             "recompile it with dsc");
  }
  void* map = ::mmap(nullptr, real_size, PROT_READ, MAP_SHARED, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file alive
  if (map == MAP_FAILED) return detail::errno_status("cannot mmap the artifact", path, map_err);
  reader.base_ = static_cast<const std::byte*>(map);
  reader.size_ = real_size;

  const auto* bytes = reinterpret_cast<const uint8_t*>(reader.base_);
  const std::span<const uint8_t, kHeaderSize> header_bytes(bytes, kHeaderSize);
  const ArtifactHeader h = decode_header(header_bytes);
  reader.header_ = h;

  // 2. Magic.
  if (h.magic != kArtifactMagic) {
    return corrupt(path, "not a DeepSeek Edge artifact: it starts with " +
                             describe_magic(std::span<const uint8_t>(bytes, 8)) + ", expected " +
                             describe_magic(kArtifactMagic) + "; pass a .dse file written by dsc");
  }
  // 3. Header checksum, before any header number is believed.
  const uint64_t header_sum = compute_header_checksum(header_bytes);
  if (header_sum != h.header_checksum) {
    return corrupt(path, "the header checksum is " + detail::hex64(h.header_checksum) + " but the header hashes to " +
                             detail::hex64(header_sum) +
                             ": the header is damaged; copy the file again or recompile it");
  }
  // 4. Version: a different major means the layout below may mean something else.
  if (h.format_major > kFormatMajor) {
    return Status(StatusCode::unsupported,
                  quoted(path) + " was built by a newer dsc: format " + std::to_string(h.format_major) + "." +
                      std::to_string(h.format_minor) + ", this runtime reads " + std::to_string(kFormatMajor) +
                      ".x; upgrade the runtime");
  }
  if (h.format_major < kFormatMajor) {
    return Status(StatusCode::unsupported,
                  quoted(path) + " has format " + std::to_string(h.format_major) + "." +
                      std::to_string(h.format_minor) + ", older than any this runtime reads (" +
                      std::to_string(kFormatMajor) + ".x); recompile the model with the current dsc");
  }
  // 5. Size recorded at write time vs size now.
  if (h.file_size != real_size) {
    if (real_size < h.file_size) {
      return corrupt(path, "the file is truncated: the header says " + std::to_string(h.file_size) +
                               " bytes, the file has " + std::to_string(real_size) + " (" +
                               std::to_string(h.file_size - real_size) +
                               " missing); the copy or download was cut short: copy it again");
    }
    return corrupt(path, "the file is longer than its header says: " + std::to_string(real_size) + " bytes, expected " +
                             std::to_string(h.file_size) + " (" + std::to_string(real_size - h.file_size) +
                             " extra); it was appended to or damaged: copy it again");
  }
  // 6. Metadata range.
  if (h.metadata_offset < kHeaderSize || h.metadata_offset % 8 != 0 || h.metadata_size == 0 ||
      h.metadata_offset > real_size || h.metadata_size > real_size - h.metadata_offset) {
    return corrupt(path, "the metadata range [" + std::to_string(h.metadata_offset) + ", " +
                             std::to_string(h.metadata_offset) + " + " + std::to_string(h.metadata_size) +
                             ") is not inside the file (" + std::to_string(real_size) +
                             " bytes) after the header, or is empty or not 8-byte aligned; the artifact is "
                             "corrupt: recompile it");
  }
  const std::span<const uint8_t> metadata(bytes + h.metadata_offset, h.metadata_size);
  // 7. Metadata checksum: catches damage the FlatBuffers verifier cannot see (a flipped bit
  // inside a vocabulary string or an instruction parameter).
  const uint64_t metadata_sum = xxhash64(metadata);
  if (metadata_sum != h.metadata_checksum) {
    return corrupt(path, "the metadata checksum is " + detail::hex64(h.metadata_checksum) + " but the " +
                             std::to_string(h.metadata_size) + " metadata bytes hash to " +
                             detail::hex64(metadata_sum) + "; the file is damaged: copy it again or recompile it");
  }
  // 8. FlatBuffers verification, identifier included.
  DSE_RETURN_IF_ERROR(verify_metadata(metadata, quoted(path)));
  reader.metadata_ = fb::GetArtifact(metadata.data());

  // 9. Segment table.
  const uint64_t metadata_end = h.metadata_offset + h.metadata_size;
  const auto* table = reader.metadata_->segments();
  const size_t count = table ? table->size() : 0;
  reader.segments_.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const fb::Segment* s = table->Get(static_cast<flatbuffers::uoffset_t>(i));
    if (s == nullptr) return corrupt(path, "the segment table has no entry for segment " + std::to_string(i));
    SegmentInfo info{s->offset(), s->stored_size(), s->raw_size(), s->codec(), s->codec_level(), s->checksum()};
    const std::string name = segment_name(i, path);
    const std::string where = " (offset " + std::to_string(info.offset) + ", " + std::to_string(info.stored_size) +
                              " stored bytes, " + std::to_string(info.raw_size) + " raw bytes)";
    if (info.codec != fb::Codec::None && info.codec != fb::Codec::Zstd) {
      return Status(StatusCode::unsupported,
                    name + " uses codec " + std::to_string(static_cast<int>(info.codec)) +
                        ", which this runtime does not know (it reads None and Zstd); upgrade the runtime");
    }
    if (info.offset % kSegmentAlignment != 0) {
      return Status(StatusCode::corrupt_data, name + where + " is not " + std::to_string(kSegmentAlignment) +
                                                  "-byte aligned; the segment table is corrupt: recompile");
    }
    if (info.offset < metadata_end) {
      return Status(StatusCode::corrupt_data, name + where + " starts before the metadata ends (" +
                                                  std::to_string(metadata_end) +
                                                  "); the segment table is corrupt: recompile");
    }
    if (info.offset > real_size || info.stored_size > real_size - info.offset) {
      return Status(StatusCode::corrupt_data, name + where + " ends past the end of the file (" +
                                                  std::to_string(real_size) +
                                                  " bytes); the segment table is corrupt or the file is cut short");
    }
    if (info.codec == fb::Codec::None && info.raw_size != info.stored_size) {
      return Status(StatusCode::corrupt_data, name + where +
                                                  " is uncompressed, so its raw and stored sizes must be equal; "
                                                  "the segment table is corrupt: recompile");
    }
    if (info.codec == fb::Codec::Zstd &&
        ((info.raw_size > 0 && info.stored_size == 0) || info.raw_size / kMaxZstdExpansion > info.stored_size)) {
      return Status(StatusCode::corrupt_data, name + where +
                                                  " claims more raw bytes than zstd can produce from its stored "
                                                  "bytes; the segment table is corrupt: recompile");
    }
    reader.segments_.push_back(info);
  }
  std::vector<size_t> order(count);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return reader.segments_[a].offset < reader.segments_[b].offset; });
  for (size_t k = 1; k < order.size(); ++k) {
    const SegmentInfo& prev = reader.segments_[order[k - 1]];
    const SegmentInfo& next = reader.segments_[order[k]];
    if (prev.offset + prev.stored_size > next.offset) {
      return corrupt(path, "segment " + std::to_string(order[k - 1]) + " [" + std::to_string(prev.offset) + ", " +
                               std::to_string(prev.offset + prev.stored_size) + ") overlaps segment " +
                               std::to_string(order[k]) + " starting at " + std::to_string(next.offset) +
                               "; the segment table is corrupt: recompile");
    }
  }
  return reader;
}

std::span<const uint8_t> ArtifactReader::metadata_bytes() const {
  if (base_ == nullptr) return {};
  return {reinterpret_cast<const uint8_t*>(base_) + header_.metadata_offset, header_.metadata_size};
}

std::span<const std::byte> ArtifactReader::file_bytes() const { return {base_, size_}; }

Result<std::span<const std::byte>> ArtifactReader::segment_bytes(size_t i) const {
  if (i >= segments_.size()) {
    return Status(StatusCode::out_of_range, "segment index " + std::to_string(i) + " is out of range: " +
                                                quoted(path_) + " has " + std::to_string(segments_.size()) +
                                                " segments");
  }
  return std::span<const std::byte>(base_ + segments_[i].offset, segments_[i].stored_size);
}

Status ArtifactReader::verify_segment(size_t i) const {
  Result<std::span<const std::byte>> bytes = segment_bytes(i);
  if (!bytes.ok()) return bytes.status();
  const uint64_t found = xxhash64(*bytes);
  if (found != segments_[i].checksum) return checksum_mismatch(i, path_, segments_[i].checksum, found);
  return Status::Ok();
}

Status ArtifactReader::verify_all_segments() const {
  for (size_t i = 0; i < segments_.size(); ++i) DSE_RETURN_IF_ERROR(verify_segment(i));
  return Status::Ok();
}

Status ArtifactReader::read_segment(size_t i, std::span<std::byte> dst) const {
  Result<std::span<const std::byte>> stored = segment_bytes(i);
  if (!stored.ok()) return stored.status();
  const SegmentInfo& info = segments_[i];
  if (dst.size() != info.raw_size) {
    return Status(StatusCode::invalid_argument,
                  segment_name(i, path_) + " decodes to " + std::to_string(info.raw_size) +
                      " bytes, the destination holds " + std::to_string(dst.size()) +
                      "; pass a buffer of exactly raw_size bytes");
  }
  if (info.codec == fb::Codec::None) {
    // Hash and copy chunk by chunk so each chunk is read from the mapping once while in cache.
    constexpr size_t kChunk = 4 << 20;
    Xxhash64Stream hash;
    const std::span<const std::byte> src = *stored;
    for (size_t pos = 0; pos < src.size(); pos += kChunk) {
      const size_t n = std::min(kChunk, src.size() - pos);
      hash.update(src.subspan(pos, n));
      std::memcpy(dst.data() + pos, src.data() + pos, n);
    }
    if (hash.digest() != info.checksum) return checksum_mismatch(i, path_, info.checksum, hash.digest());
    return Status::Ok();
  }
  DSE_RETURN_IF_ERROR(verify_segment(i));
  return detail::zstd_decode(*stored, dst, segment_name(i, path_));
}

}  // namespace dse::formats
