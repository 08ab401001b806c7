// UTF-8 helpers shared by encode (validation), decode (lossy repair) and streaming decode.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dse::tokenizer {

// Returns the byte offset of the first byte that does not start a valid UTF-8 sequence
// (overlong forms, surrogates and code points above U+10FFFF are invalid), or text.size() when
// all of text is valid.
size_t find_invalid_utf8(std::string_view text);

// Appends text to out with every invalid sequence replaced by U+FFFD, one replacement per
// maximal invalid subpart: the same result as Rust's String::from_utf8_lossy and Python's
// bytes.decode("utf-8", "replace"), which is what Hugging Face decode produces.
void append_utf8_lossy(std::string_view text, std::string& out);

// Length of the longest prefix of `text` that can be emitted now: complete characters and
// definitely invalid bytes. What is left (at most 3 bytes) is the start of a character that
// more bytes could still complete.
size_t utf8_complete_prefix(std::string_view text);

}  // namespace dse::tokenizer
