// The 64-byte header at the start of every artifact: magic, format version, where the metadata
// is, the file size, and checksums. Byte layout and compatibility rules: docs/FORMAT.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace dse::formats {

// "DSEARTF" and a NUL. Chosen so that `head -c 8` of an artifact reads as text.
inline constexpr std::array<uint8_t, 8> kArtifactMagic = {'D', 'S', 'E', 'A', 'R', 'T', 'F', '\0'};

// Format version this code writes and reads. A reader accepts any minor of its own major
// (minor bumps only append); a different major is a breaking change.
inline constexpr uint16_t kFormatMajor = 1;
inline constexpr uint16_t kFormatMinor = 0;

inline constexpr uint64_t kHeaderSize = 64;          // bytes
inline constexpr uint64_t kSegmentAlignment = 4096;  // bytes; every segment offset is a multiple

// Header flag bits. None are defined in 1.0. A reader ignores bits it does not know, so a flag
// may only announce something optional, never change how existing fields are read.
inline constexpr uint32_t kKnownHeaderFlags = 0;

// The header as numbers. On disk every field is little-endian at the offset asserted below, so
// encode_header/decode_header are the only way in or out (never memcpy the struct: that would
// tie the format to the host's byte order).
struct ArtifactHeader {
  std::array<uint8_t, 8> magic = kArtifactMagic;  // offset 0
  uint16_t format_major = kFormatMajor;           // offset 8
  uint16_t format_minor = kFormatMinor;           // offset 10
  uint32_t flags = 0;                             // offset 12
  uint64_t metadata_offset = 0;                   // offset 16, bytes from the start of the file
  uint64_t metadata_size = 0;                     // offset 24, bytes of the FlatBuffers buffer
  uint64_t file_size = 0;                         // offset 32, bytes, the whole file
  uint64_t metadata_checksum = 0;                 // offset 40, xxHash64 (seed 0) of the metadata
  std::array<uint8_t, 8> reserved{};              // offset 48, zero; ignored by 1.x readers
  uint64_t header_checksum = 0;                   // offset 56, xxHash64 (seed 0) of bytes [0, 56)
};

static_assert(sizeof(ArtifactHeader) == kHeaderSize, "the artifact header is exactly 64 bytes");
static_assert(offsetof(ArtifactHeader, magic) == 0);
static_assert(offsetof(ArtifactHeader, format_major) == 8);
static_assert(offsetof(ArtifactHeader, format_minor) == 10);
static_assert(offsetof(ArtifactHeader, flags) == 12);
static_assert(offsetof(ArtifactHeader, metadata_offset) == 16);
static_assert(offsetof(ArtifactHeader, metadata_size) == 24);
static_assert(offsetof(ArtifactHeader, file_size) == 32);
static_assert(offsetof(ArtifactHeader, metadata_checksum) == 40);
static_assert(offsetof(ArtifactHeader, reserved) == 48);
static_assert(offsetof(ArtifactHeader, header_checksum) == 56);

// Bytes covered by header_checksum: everything before it.
inline constexpr size_t kHeaderChecksumOffset = offsetof(ArtifactHeader, header_checksum);

using HeaderBytes = std::array<uint8_t, kHeaderSize>;

// Serialises `header` little-endian. header_checksum is computed here; the value in `header` is
// ignored.
HeaderBytes encode_header(const ArtifactHeader& header);

// Parses the 64 bytes without judging them; validation is the reader's job so that each failure
// gets its own message.
ArtifactHeader decode_header(std::span<const uint8_t, kHeaderSize> bytes);

// xxHash64 of bytes [0, 56) of an encoded header: the value header_checksum must hold.
uint64_t compute_header_checksum(std::span<const uint8_t, kHeaderSize> bytes);

// Rounds `value` up to a multiple of `alignment` (a power of two).
constexpr uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

}  // namespace dse::formats
