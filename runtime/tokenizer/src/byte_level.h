// The GPT-2 byte <-> unicode map that byte-level BPE vocabularies are written in.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dse::tokenizer {

// Byte b is written as the code point byte_to_code_point()[b]: printable Latin-1 bytes stand for
// themselves, the other 68 bytes are moved to U+0100.. in byte order (GPT-2's bytes_to_unicode).
const std::array<uint32_t, 256>& byte_to_code_point();

// Appends the byte-level spelling of raw bytes (each byte becomes one code point, in UTF-8).
void byte_level_encode(std::string_view raw, std::string& out);

// Decodes a byte-level string back to raw bytes. Returns false (and leaves `out` partly
// appended, so callers truncate) when a character is not one of the 256 byte characters.
bool byte_level_decode(std::string_view text, std::string& out);

// Appends the UTF-8 encoding of a code point.
void append_utf8(uint32_t code_point, std::string& out);

}  // namespace dse::tokenizer
