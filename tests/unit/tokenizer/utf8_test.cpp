// Tests of the UTF-8 helpers: validation, lossy repair as Python/Rust do it, complete prefixes.
#include "dse/tokenizer/utf8.h"

#include <catch2/catch_test_macros.hpp>

using namespace dse::tokenizer;

namespace {
std::string lossy(std::string_view s) {
  std::string out;
  append_utf8_lossy(s, out);
  return out;
}
const std::string kFffd = "\xEF\xBF\xBD";
}  // namespace

TEST_CASE("find_invalid_utf8 accepts valid text of every length class") {
  const std::string s = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80z";  // a é 中 😀 z
  CHECK(find_invalid_utf8(s) == s.size());
  CHECK(find_invalid_utf8("") == 0);
  CHECK(find_invalid_utf8(std::string(100, 'x')) == 100);
}

TEST_CASE("find_invalid_utf8 points at the first bad byte") {
  CHECK(find_invalid_utf8("abc\xFFz") == 3);
  CHECK(find_invalid_utf8("ab\xC0\x80") == 2);          // overlong NUL
  CHECK(find_invalid_utf8("\xED\xA0\x80") == 0);        // surrogate U+D800
  CHECK(find_invalid_utf8("x\xF4\x90\x80\x80") == 1);   // above U+10FFFF
  CHECK(find_invalid_utf8("12345678\xE4\xB8") == 8);    // truncated at the end
  CHECK(find_invalid_utf8("\x80") == 0);                // lone continuation byte
}

TEST_CASE("append_utf8_lossy replaces each maximal invalid subpart by one U+FFFD") {
  // The Unicode / WHATWG / Python bytes.decode("utf-8", "replace") results.
  CHECK(lossy("a\xFF" "b") == "a" + kFffd + "b");
  CHECK(lossy("\xE4\xB8") == kFffd);                            // truncated 3-byte sequence
  CHECK(lossy("\xE4\xB8" "a") == kFffd + "a");
  CHECK(lossy("\xED\xA0\x80") == kFffd + kFffd + kFffd);        // surrogates: 3 replacements
  CHECK(lossy("\xF0\x80\x80") == kFffd + kFffd + kFffd);        // overlong: 3 replacements
  CHECK(lossy("\xC0\xAF") == kFffd + kFffd);
  CHECK(lossy("\xF0\x9F\x98") == kFffd);
  CHECK(lossy("ok \xC3\xA9") == "ok \xC3\xA9");
}

TEST_CASE("utf8_complete_prefix holds back only an unfinished character") {
  CHECK(utf8_complete_prefix("abc") == 3);
  CHECK(utf8_complete_prefix("ab\xE4\xB8") == 2);
  CHECK(utf8_complete_prefix("ab\xE4\xB8\xAD") == 5);
  CHECK(utf8_complete_prefix("\xF0\x9F\x98") == 0);
  CHECK(utf8_complete_prefix("\xF0\x9F\x98\x80") == 4);
  CHECK(utf8_complete_prefix("a\xFF") == 2);       // invalid now and forever: emit it
  CHECK(utf8_complete_prefix("a\xE4" "b") == 3);  // the lead byte can no longer complete
  CHECK(utf8_complete_prefix("") == 0);
}
