// The 64-byte artifact header: byte positions, endianness and checksum.
#include <catch2/catch_test_macros.hpp>

#include "dse/formats/checksum.h"
#include "dse/formats/header.h"

using namespace dse::formats;

TEST_CASE("the header encodes every field little-endian at its documented offset") {
  ArtifactHeader h;
  h.format_major = 0x0102;
  h.format_minor = 0x0304;
  h.flags = 0x05060708;
  h.metadata_offset = 0x1122334455667788ull;
  h.metadata_size = 0x99aabbccddeeff00ull;
  h.file_size = 0x0123456789abcdefull;
  h.metadata_checksum = 0xfedcba9876543210ull;
  const HeaderBytes b = encode_header(h);

  CHECK(std::string(reinterpret_cast<const char*>(b.data()), 8) == std::string("DSEARTF\0", 8));
  CHECK(b[8] == 0x02);
  CHECK(b[9] == 0x01);
  CHECK(b[10] == 0x04);
  CHECK(b[12] == 0x08);
  CHECK(b[15] == 0x05);
  CHECK(b[16] == 0x88);
  CHECK(b[23] == 0x11);
  CHECK(b[24] == 0x00);
  CHECK(b[31] == 0x99);
  CHECK(b[32] == 0xef);
  CHECK(b[39] == 0x01);
  CHECK(b[40] == 0x10);
  CHECK(b[47] == 0xfe);
  for (size_t i = 48; i < 56; ++i) CHECK(b[i] == 0);
  const uint64_t sum = xxhash64(std::span<const uint8_t>(b.data(), 56));
  uint64_t stored = 0;
  for (int i = 0; i < 8; ++i) stored |= uint64_t{b[56 + i]} << (8 * i);
  CHECK(stored == sum);
}

TEST_CASE("a decoded header equals the one that was encoded") {
  ArtifactHeader h;
  h.flags = 3;
  h.metadata_offset = 64;
  h.metadata_size = 1000;
  h.file_size = (uint64_t{5} << 32) + 17;
  h.metadata_checksum = 42;
  const HeaderBytes b = encode_header(h);
  const ArtifactHeader d = decode_header(b);
  CHECK(d.magic == kArtifactMagic);
  CHECK(d.format_major == kFormatMajor);
  CHECK(d.format_minor == kFormatMinor);
  CHECK(d.flags == 3);
  CHECK(d.metadata_offset == 64);
  CHECK(d.metadata_size == 1000);
  CHECK(d.file_size == (uint64_t{5} << 32) + 17);
  CHECK(d.metadata_checksum == 42);
  CHECK(d.header_checksum == compute_header_checksum(b));
}

TEST_CASE("changing any byte before the checksum changes the header checksum") {
  const HeaderBytes b = encode_header(ArtifactHeader{});
  const uint64_t original = compute_header_checksum(b);
  for (size_t i = 0; i < kHeaderChecksumOffset; ++i) {
    HeaderBytes changed = b;
    changed[i] ^= 0x01;
    CHECK(compute_header_checksum(changed) != original);
  }
}

TEST_CASE("streamed xxHash64 equals the one-shot hash, zeros included") {
  std::vector<std::byte> data(100000, std::byte{0});
  for (size_t i = 0; i < 5000; ++i) data[i] = static_cast<std::byte>(i * 31);
  Xxhash64Stream s;
  s.update(std::span<const std::byte>(data.data(), 5000));
  s.update_zeros(data.size() - 5000);
  CHECK(s.digest() == xxhash64(std::span<const std::byte>(data)));
}

TEST_CASE("align_up rounds to the next multiple of the segment alignment") {
  CHECK(align_up(0, kSegmentAlignment) == 0);
  CHECK(align_up(1, kSegmentAlignment) == 4096);
  CHECK(align_up(4096, kSegmentAlignment) == 4096);
  CHECK(align_up((uint64_t{1} << 32) + 1, kSegmentAlignment) == (uint64_t{1} << 32) + 4096);
}
