// Tests of the Oniguruma -> PCRE2 regex translation.
#include "dse/tokenizer/hf_regex.h"

#include <catch2/catch_test_macros.hpp>

using namespace dse::tokenizer;

TEST_CASE("translate_hf_regex adds NEL to \\s and spells out \\S outside classes") {
  auto r = translate_hf_regex(R"(\s+(?!\S))");
  REQUIRE(r.ok());
  CHECK(r.value() == R"([\s\x{85}]+(?![^\s\x{85}]))");
}

TEST_CASE("translate_hf_regex adds NEL to \\s inside a class") {
  auto r = translate_hf_regex(R"([^\s\p{L}\p{N}]+)");
  REQUIRE(r.ok());
  CHECK(r.value() == R"([^\s\x{85}\p{L}\p{N}]+)");
}

TEST_CASE("translate_hf_regex keeps property classes, case-insensitive groups and escapes") {
  const std::string p = R"((?i:'s|'t)|\p{N}{1,3}|[\[\\\]^_`{|}~]|\x{4e00})";
  auto r = translate_hf_regex(p);
  REQUIRE(r.ok());
  CHECK(r.value() == p);
}

TEST_CASE("translate_hf_regex turns \\uHHHH into \\x{HHHH}") {
  auto r = translate_hf_regex(R"([\u4e00-\u9fa5])");
  REQUIRE(r.ok());
  CHECK(r.value() == R"([\x{4e00}-\x{9fa5}])");
}

TEST_CASE("translate_hf_regex treats a ] right after [ as a literal") {
  auto r = translate_hf_regex(R"([]a]\s)");
  REQUIRE(r.ok());
  CHECK(r.value() == R"([]a][\s\x{85}])");
}

TEST_CASE("translate_hf_regex rejects Oniguruma-only class intersections and unclosed classes") {
  auto r = translate_hf_regex("[a-z&&[^aeiou]]");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == dse::StatusCode::unsupported);
  auto u = translate_hf_regex("[abc");
  REQUIRE_FALSE(u.ok());
  CHECK(u.status().message().find("unclosed") != std::string::npos);
}

TEST_CASE("escape_regex_literal escapes every metacharacter") {
  CHECK(escape_regex_literal("a.b*(c)") == R"(a\.b\*\(c\))");
}
