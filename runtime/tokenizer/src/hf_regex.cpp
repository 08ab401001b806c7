// Oniguruma (HF tokenizers) regex syntax -> PCRE2 syntax, for the constructs that differ.
#include "dse/tokenizer/hf_regex.h"

#include <cctype>

namespace dse::tokenizer {
namespace {

// Oniguruma's Unicode \s is the White_Space property; PCRE2's (UCP) lacks U+0085 (NEL).
constexpr std::string_view kSpaceInClass = R"(\s\x{85})";
// Oniguruma's Unicode \w: Letter, Mark, Decimal_Number, Connector_Punctuation. PCRE2's \w (UCP)
// is \p{L}, \p{N} and '_' only.
constexpr std::string_view kWordInClass = R"(\p{L}\p{M}\p{Nd}\p{Pc})";
constexpr std::string_view kHexInClass = "0-9a-fA-F";

Status unsupported(std::string_view pattern, size_t at, std::string_view what) {
  return Status(StatusCode::unsupported,
                "regex " + std::string(pattern) + ": " + std::string(what) + " at byte " +
                    std::to_string(at) +
                    " has no PCRE2 equivalent here; rewrite the pattern in tokenizer.json or "
                    "extend translate_hf_regex");
}

}  // namespace

Result<std::string> translate_hf_regex(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 16);
  bool in_class = false;
  size_t class_start = 0;  // index just after '[' or '[^', where a ']' is still literal
  for (size_t i = 0; i < p.size();) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) {
        return Status(StatusCode::invalid_argument,
                      "regex " + std::string(p) + " ends with a lone backslash; expected an escape");
      }
      const char e = p[i + 1];
      switch (e) {
        case 's':
          out += in_class ? std::string(kSpaceInClass) : "[" + std::string(kSpaceInClass) + "]";
          break;
        case 'S':
          // Inside a class the complement cannot be added to a union; keep PCRE2's \S there
          // (differs only for U+0085).
          out += in_class ? std::string(R"(\S)") : "[^" + std::string(kSpaceInClass) + "]";
          break;
        case 'w':
          out += in_class ? std::string(kWordInClass) : "[" + std::string(kWordInClass) + "]";
          break;
        case 'W':
          if (in_class) return unsupported(p, i, "\\W inside a character class");
          out += "[^" + std::string(kWordInClass) + "]";
          break;
        case 'h':
          out += in_class ? std::string(kHexInClass) : "[" + std::string(kHexInClass) + "]";
          break;
        case 'H':
          if (in_class) return unsupported(p, i, "\\H inside a character class");
          out += "[^" + std::string(kHexInClass) + "]";
          break;
        case 'u': {
          // Oniguruma \uHHHH -> PCRE2 \x{HHHH}.
          if (i + 6 > p.size()) return unsupported(p, i, "a short \\u escape");
          for (size_t k = i + 2; k < i + 6; ++k) {
            if (!std::isxdigit(static_cast<unsigned char>(p[k]))) {
              return unsupported(p, i, "a \\u escape without 4 hex digits");
            }
          }
          out += "\\x{" + std::string(p.substr(i + 2, 4)) + "}";
          i += 6;
          continue;
        }
        case 'p':
        case 'P':
        case 'x': {
          // \p{..}, \P{..}, \x{..}: copy through the closing brace (same syntax in PCRE2).
          out += c;
          out += e;
          i += 2;
          if (i < p.size() && p[i] == '{') {
            const size_t close = p.find('}', i);
            if (close == std::string_view::npos) return unsupported(p, i, "an unclosed {");
            out.append(p.substr(i, close + 1 - i));
            i = close + 1;
          }
          continue;
        }
        default:
          out += c;
          out += e;
          break;
      }
      i += 2;
      continue;
    }
    if (in_class) {
      if (c == ']' && i > class_start) {
        in_class = false;
      } else if (c == '[') {
        if (i + 1 < p.size() && p[i + 1] == ':') {
          // POSIX class [:name:] inside a bracket expression: same in PCRE2.
          const size_t close = p.find(":]", i + 2);
          if (close == std::string_view::npos) return unsupported(p, i, "an unclosed [:class:]");
          out.append(p.substr(i, close + 2 - i));
          i = close + 2;
          continue;
        }
        return unsupported(p, i, "a nested character class");
      } else if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') {
        return unsupported(p, i, "a class intersection (&&)");
      }
      out += c;
      ++i;
      continue;
    }
    if (c == '[') {
      in_class = true;
      out += c;
      ++i;
      if (i < p.size() && p[i] == '^') {
        out += '^';
        ++i;
      }
      class_start = i;  // a ']' right here is a literal
      continue;
    }
    if (c == '(' && p.substr(i, 3) == "(?~") return unsupported(p, i, "an absent operator (?~");
    out += c;
    ++i;
  }
  if (in_class) {
    return Status(StatusCode::invalid_argument,
                  "regex " + std::string(p) + " has an unclosed character class; expected ']'");
  }
  return out;
}

std::string escape_regex_literal(std::string_view literal) {
  std::string out;
  out.reserve(literal.size() * 2);
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}/-").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace dse::tokenizer
