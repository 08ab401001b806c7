// GPT-2's bytes_to_unicode table and its inverse.
#include "byte_level.h"

namespace dse::tokenizer {
namespace {

std::array<uint32_t, 256> build_byte_map() {
  std::array<uint32_t, 256> map{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
    map[b] = printable ? b : next++;
  }
  return map;
}

// Inverse over U+0000..U+0143 (the highest byte character is U+0143); -1 where none.
std::array<int16_t, 324> build_inverse() {
  std::array<int16_t, 324> inv{};
  inv.fill(-1);
  const auto& map = byte_to_code_point();
  for (int b = 0; b < 256; ++b) inv[map[b]] = static_cast<int16_t>(b);
  return inv;
}

}  // namespace

const std::array<uint32_t, 256>& byte_to_code_point() {
  static const std::array<uint32_t, 256> map = build_byte_map();
  return map;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void byte_level_encode(std::string_view raw, std::string& out) {
  const auto& map = byte_to_code_point();
  for (unsigned char b : raw) append_utf8(map[b], out);
}

bool byte_level_decode(std::string_view text, std::string& out) {
  static const std::array<int16_t, 324> inv = build_inverse();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    if (p[i] < 0x80) {
      cp = p[i];
      i += 1;
    } else if ((p[i] & 0xE0) == 0xC0 && i + 1 < n) {
      cp = ((p[i] & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
      i += 2;
    } else {
      return false;  // byte characters are all below U+0800
    }
    if (cp >= inv.size() || inv[cp] < 0) return false;
    out += static_cast<char>(inv[cp]);
  }
  return true;
}

}  // namespace dse::tokenizer
