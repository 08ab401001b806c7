// UTF-8 validation, lossy repair and complete-prefix detection (Unicode table 3-7 rules).
#include "dse/tokenizer/utf8.h"

#include <cstdint>
#include <cstring>

namespace dse::tokenizer {
namespace {

enum class Seq { valid, invalid, incomplete };

// Classifies the sequence starting at p[0] (n >= 1 bytes available). `len` is the character
// length when valid, the maximal invalid subpart when invalid, the bytes seen when incomplete.
Seq classify(const unsigned char* p, size_t n, size_t& len) {
  const unsigned char b0 = p[0];
  if (b0 < 0x80) {
    len = 1;
    return Seq::valid;
  }
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 3;
    if (b0 == 0xE0) lo = 0xA0;       // no overlong forms
    else if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 4;
    if (b0 == 0xF0) lo = 0x90;       // no overlong forms
    else if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    len = 1;
    return Seq::invalid;
  }
  for (size_t i = 1; i < need; ++i) {
    if (i >= n) {
      len = i;
      return Seq::incomplete;
    }
    const unsigned char b = p[i];
    const unsigned char l = i == 1 ? lo : 0x80;
    const unsigned char h = i == 1 ? hi : 0xBF;
    if (b < l || b > h) {
      len = i;
      return Seq::invalid;
    }
  }
  len = need;
  return Seq::valid;
}

// Skips ASCII 8 bytes at a time: most text is mostly ASCII.
size_t skip_ascii(const unsigned char* p, size_t n, size_t i) {
  while (i + 8 <= n) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ULL) break;
    i += 8;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

size_t find_invalid_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (true) {
    i = skip_ascii(p, n, i);
    if (i >= n) return n;
    size_t len = 0;
    if (classify(p + i, n - i, len) != Seq::valid) return i;
    i += len;
  }
}

void append_utf8_lossy(std::string_view text, std::string& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  size_t run_start = 0;  // start of the valid run not yet copied
  while (i < n) {
    const size_t j = skip_ascii(p, n, i);
    if (j >= n) break;
    i = j;
    size_t len = 0;
    if (classify(p + i, n - i, len) == Seq::valid) {
      i += len;
      continue;
    }
    out.append(text.data() + run_start, i - run_start);
    out.append(kReplacement);
    i += len;
    run_start = i;
  }
  out.append(text.data() + run_start, n - run_start);
}

size_t utf8_complete_prefix(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  // Only the last 3 bytes can be an unfinished character; scan from the start of that window,
  // but a sequence must be classified from its lead byte, so walk forward from a safe point.
  size_t i = n > 3 ? n - 3 : 0;
  // Move back to a byte that is not a continuation byte, so that we classify whole sequences.
  while (i > 0 && (p[i] & 0xC0) == 0x80 && n - i < 4) --i;
  while (i < n) {
    size_t len = 0;
    const Seq s = classify(p + i, n - i, len);
    if (s == Seq::incomplete) return i;
    i += len;
  }
  return n;
}

}  // namespace dse::tokenizer
