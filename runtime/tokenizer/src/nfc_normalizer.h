// NfcNormalizer: Unicode NFC through utf8proc, with a quick check that skips most text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dse::tokenizer {

class NfcNormalizer {
 public:
  // True when `text` (valid UTF-8) is certainly already in NFC: no character that could
  // decompose, reorder or compose. False means "maybe": normalize() must run.
  static bool is_quick_nfc(std::string_view text);

  // Appends NFC(text) to out. Reuses an internal code point buffer (not thread-safe).
  void append_nfc(std::string_view text, std::string& out);

 private:
  std::vector<int32_t> buffer_;
};

}  // namespace dse::tokenizer
