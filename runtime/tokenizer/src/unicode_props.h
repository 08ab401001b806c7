// The few Unicode properties the tokenizer asks about outside the regex engine.
#pragma once

#include <cstdint>
#include <string_view>

namespace dse::tokenizer {

// White_Space property (what Rust's and Oniguruma's Unicode \s match).
bool is_white_space(uint32_t cp);
// Rust regex's Unicode \w: letters, marks, decimal digits, connector punctuation, joiners.
bool is_word_char(uint32_t cp);

// Decodes the code point starting at text[i] (text must be valid UTF-8); sets `len`.
uint32_t decode_utf8_at(std::string_view text, size_t i, size_t& len);
// Decodes the code point that ends at text[end - 1] (valid UTF-8, end > 0); sets `len`.
uint32_t decode_utf8_before(std::string_view text, size_t end, size_t& len);

}  // namespace dse::tokenizer
