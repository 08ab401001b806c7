// Translation of Hugging Face tokenizer regexes (Oniguruma syntax) to PCRE2 syntax.
#pragma once

#include <string>
#include <string_view>

#include "dse/status.h"

namespace dse::tokenizer {

// Rewrites the constructs whose meaning differs between Oniguruma (what HF `tokenizers` uses)
// and PCRE2 in UTF + UCP mode, so that both match the same text:
//   \s, \S   Oniguruma includes U+0085 (NEL); PCRE2 does not        -> adds \x{85}
//   \w, \W   Oniguruma: letters, marks, decimal digits, connectors   -> spelled out as \p{...}
//   \h, \H   Oniguruma: hex digit; PCRE2: horizontal space          -> [0-9a-fA-F]
// Everything else (\p{..}, (?i:..), lookaround, possessive and atomic groups) has the same
// syntax and meaning in both. Returns unsupported, naming the construct, for Oniguruma-only
// syntax that has no PCRE2 spelling here (\g<name> subexpression calls, (?~absent)).
Result<std::string> translate_hf_regex(std::string_view oniguruma_pattern);

// A PCRE2 pattern that matches `literal` exactly (for tokenizer.json's {"String": ...} splits).
std::string escape_regex_literal(std::string_view literal);

// The GPT-2 pattern that ByteLevel(use_regex = true) applies, in HF syntax.
inline constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

}  // namespace dse::tokenizer
