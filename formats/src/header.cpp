// Little-endian encoding of the artifact header, independent of the host's byte order.
#include "dse/formats/header.h"

#include "dse/formats/checksum.h"

namespace dse::formats {
namespace {

template <typename T>
void store_le(uint8_t* dst, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) dst[i] = static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i));
}

template <typename T>
T load_le(const uint8_t* src) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<uint64_t>(src[i]) << (8 * i);
  return static_cast<T>(value);
}

}  // namespace

HeaderBytes encode_header(const ArtifactHeader& header) {
  HeaderBytes out{};
  for (size_t i = 0; i < header.magic.size(); ++i) out[i] = header.magic[i];
  store_le<uint16_t>(&out[offsetof(ArtifactHeader, format_major)], header.format_major);
  store_le<uint16_t>(&out[offsetof(ArtifactHeader, format_minor)], header.format_minor);
  store_le<uint32_t>(&out[offsetof(ArtifactHeader, flags)], header.flags);
  store_le<uint64_t>(&out[offsetof(ArtifactHeader, metadata_offset)], header.metadata_offset);
  store_le<uint64_t>(&out[offsetof(ArtifactHeader, metadata_size)], header.metadata_size);
  store_le<uint64_t>(&out[offsetof(ArtifactHeader, file_size)], header.file_size);
  store_le<uint64_t>(&out[offsetof(ArtifactHeader, metadata_checksum)], header.metadata_checksum);
  for (size_t i = 0; i < header.reserved.size(); ++i) out[offsetof(ArtifactHeader, reserved) + i] = header.reserved[i];
  store_le<uint64_t>(&out[kHeaderChecksumOffset], compute_header_checksum(out));
  return out;
}

ArtifactHeader decode_header(std::span<const uint8_t, kHeaderSize> bytes) {
  ArtifactHeader h;
  for (size_t i = 0; i < h.magic.size(); ++i) h.magic[i] = bytes[i];
  h.format_major = load_le<uint16_t>(&bytes[offsetof(ArtifactHeader, format_major)]);
  h.format_minor = load_le<uint16_t>(&bytes[offsetof(ArtifactHeader, format_minor)]);
  h.flags = load_le<uint32_t>(&bytes[offsetof(ArtifactHeader, flags)]);
  h.metadata_offset = load_le<uint64_t>(&bytes[offsetof(ArtifactHeader, metadata_offset)]);
  h.metadata_size = load_le<uint64_t>(&bytes[offsetof(ArtifactHeader, metadata_size)]);
  h.file_size = load_le<uint64_t>(&bytes[offsetof(ArtifactHeader, file_size)]);
  h.metadata_checksum = load_le<uint64_t>(&bytes[offsetof(ArtifactHeader, metadata_checksum)]);
  for (size_t i = 0; i < h.reserved.size(); ++i) h.reserved[i] = bytes[offsetof(ArtifactHeader, reserved) + i];
  h.header_checksum = load_le<uint64_t>(&bytes[kHeaderChecksumOffset]);
  return h;
}

uint64_t compute_header_checksum(std::span<const uint8_t, kHeaderSize> bytes) {
  return xxhash64(std::span<const uint8_t>(bytes.data(), kHeaderChecksumOffset));
}

}  // namespace dse::formats
