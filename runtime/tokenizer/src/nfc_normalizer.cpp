// NFC with utf8proc's decompose + compose on a reusable buffer (utf8proc_map would malloc).
#include "nfc_normalizer.h"

#include <utf8proc.h>

#include "unicode_props.h"

namespace dse::tokenizer {

bool NfcNormalizer::is_quick_nfc(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    // Below U+0300 nothing decomposes canonically, has a combining class, or composes with a
    // preceding character; those code points are encoded with lead bytes below 0xCC.
    if (p[i] < 0xCC) {
      i += p[i] < 0x80 ? 1 : 2;
      continue;
    }
    size_t len = 0;
    const uint32_t cp = decode_utf8_at(text, i, len);
    i += len;
    if (cp >= 0xAC00 && cp <= 0xD7A3) continue;  // precomposed Hangul syllables are NFC
    if ((cp >= 0x1100 && cp <= 0x11FF) || (cp >= 0xA960 && cp <= 0xA97F) ||
        (cp >= 0xD7B0 && cp <= 0xD7FF)) {
      return false;  // conjoining jamo compose algorithmically
    }
    const utf8proc_property_t* prop = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp));
    if (prop->combining_class != 0) return false;
    if (prop->comb_index != UINT16_MAX && prop->comb_index >= 0x8000) return false;  // 2nd of a pair
    if (prop->decomp_seqindex != UINT16_MAX && prop->decomp_type == 0) return false;  // canonical
  }
  return true;
}

void NfcNormalizer::append_nfc(std::string_view text, std::string& out) {
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  const auto* src = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  const auto src_len = static_cast<utf8proc_ssize_t>(text.size());
  // One slot per code point plus one: utf8proc_reencode writes a terminating NUL after up to 4
  // bytes per code point, in place.
  if (buffer_.size() < text.size() + 1) buffer_.resize(text.size() + 1);
  utf8proc_ssize_t count = utf8proc_decompose(
      src, src_len, buffer_.data(), static_cast<utf8proc_ssize_t>(buffer_.size()) - 1, options);
  if (count >= static_cast<utf8proc_ssize_t>(buffer_.size())) {
    buffer_.resize(static_cast<size_t>(count) + 1);
    count = utf8proc_decompose(src, src_len, buffer_.data(), count, options);
  }
  // reencode composes (normalize_utf32) and then writes UTF-8 over the buffer.
  if (count >= 0) count = utf8proc_reencode(buffer_.data(), count, options);
  if (count < 0) {  // cannot happen for valid UTF-8; keep the text rather than lose it
    out.append(text);
    return;
  }
  out.append(reinterpret_cast<const char*>(buffer_.data()), static_cast<size_t>(count));
}

}  // namespace dse::tokenizer
