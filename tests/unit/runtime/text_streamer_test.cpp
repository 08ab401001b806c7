// The text streamer: stop strings across token boundaries and whole UTF-8 characters.
#include "dse/runtime/text_streamer.h"

#include <catch2/catch_test_macros.hpp>
#include <random>
#include <string>
#include <vector>

#include "dse/tokenizer/utf8.h"

using dse::runtime::TextStreamer;

namespace {

TextStreamer make(std::vector<std::string_view> stops) {
  auto t = TextStreamer::create(16);
  REQUIRE(t.ok());
  TextStreamer s = std::move(t).value();
  REQUIRE(s.begin(stops).ok());
  return s;
}

}  // namespace

TEST_CASE("text without stop strings streams as it comes", "[text_streamer]") {
  TextStreamer s = make({});
  CHECK(s.push("ab").text == "ab");
  CHECK(s.push("c").text == "c");
  CHECK(s.finish().empty());
}

TEST_CASE("a stop string split over tokens is found and never emitted", "[text_streamer]") {
  TextStreamer s = make({"END"});
  std::string out;
  auto r = s.push("xxE");
  out += r.text;
  CHECK(out == "xx");  // "E" may start "END": held back
  r = s.push("N");
  CHECK_FALSE(r.stop_matched);
  out += r.text;
  r = s.push("Dyy");
  CHECK(r.stop_matched);
  out += r.text;
  CHECK(out == "xx");
}

TEST_CASE("held-back text that turns out not to be a stop string is emitted", "[text_streamer]") {
  TextStreamer s = make({"END"});
  std::string out;
  out += s.push("E").text;
  out += s.push("Nx").text;
  CHECK(out == "ENx");
  out += s.push("EN").text;
  out += s.finish();
  CHECK(out == "ENxEN");
}

TEST_CASE("a UTF-8 character split over tokens is emitted whole", "[text_streamer]") {
  TextStreamer s = make({});
  const std::string euro = "\xE2\x82\xAC";
  CHECK(s.push(euro.substr(0, 1)).text.empty());
  CHECK(s.push(euro.substr(1, 1)).text.empty());
  CHECK(s.push(euro.substr(2, 1)).text == euro);
}

TEST_CASE("too many or too long stop strings are refused", "[text_streamer]") {
  auto t = TextStreamer::create(16);
  REQUIRE(t.ok());
  std::string long_stop(TextStreamer::kMaxStopStringBytes + 1, 'x');
  std::vector<std::string_view> stops = {long_stop};
  auto st = t->begin(stops);
  CHECK(st.code() == dse::StatusCode::invalid_argument);
  CHECK(st.message().find("513 bytes") != std::string::npos);
  std::vector<std::string_view> many(TextStreamer::kMaxStopStrings + 1, "x");
  CHECK(t->begin(many).code() == dse::StatusCode::invalid_argument);
}

namespace {

// Everything the streamer hands out for `pieces`, then finish().
std::string stream_all(const std::vector<std::string>& pieces, size_t max_piece = 16) {
  auto t = TextStreamer::create(max_piece);
  REQUIRE(t.ok());
  TextStreamer s = std::move(t).value();
  REQUIRE(s.begin({}).ok());
  std::string out;
  for (const std::string& p : pieces) out += s.push(p).text;
  out += s.finish();
  return out;
}

std::string lossy(const std::string& bytes) {
  std::string out;
  dse::tokenizer::append_utf8_lossy(bytes, out);
  return out;
}

}  // namespace

TEST_CASE("a lone continuation byte reaches the callback as U+FFFD", "[text_streamer][utf8]") {
  auto t = TextStreamer::create(16);
  REQUIRE(t.ok());
  TextStreamer s = std::move(t).value();
  REQUIRE(s.begin({}).ok());
  CHECK(s.push("a\x80").text == "a\xEF\xBF\xBD");
  CHECK(s.push("b").text == "b");
  CHECK(s.finish().empty());
}

TEST_CASE("a lead byte followed by ASCII becomes U+FFFD and keeps the ASCII", "[text_streamer][utf8]") {
  CHECK(stream_all({"\xC3", "a"}) == "\xEF\xBF\xBD" "a");
  CHECK(stream_all({"\xE2\x82", "x"}) == "\xEF\xBF\xBD" "x");  // one U+FFFD per maximal subpart
  CHECK(stream_all({"\xF4\x80", "]"}) == "\xEF\xBF\xBD" "]");
  CHECK(stream_all({"\xF4\x80]"}) == "\xEF\xBF\xBD" "]");
}

TEST_CASE("a character split over three tokens comes out whole, once", "[text_streamer][utf8]") {
  auto t = TextStreamer::create(16);
  REQUIRE(t.ok());
  TextStreamer s = std::move(t).value();
  REQUIRE(s.begin({}).ok());
  CHECK(s.push("\xE2").text.empty());
  CHECK(s.push("\x82").text.empty());
  CHECK(s.push("\xAC!").text == "\xE2\x82\xAC!");  // U+20AC
  CHECK(s.finish().empty());
}

TEST_CASE("an unfinished character at the end of a generation becomes one U+FFFD", "[text_streamer][utf8]") {
  CHECK(stream_all({"ok", "\xF0\x9F\x98"}) == "ok\xEF\xBF\xBD");
}

TEST_CASE("overlong forms, surrogates and bytes above U+10FFFF are replaced", "[text_streamer][utf8]") {
  CHECK(stream_all({"\xC0\xAF"}) == "\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(stream_all({"\xED\xA0\x80"}) == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(stream_all({"\xF5"}) == "\xEF\xBF\xBD");
  CHECK(stream_all({"\xFF", "\xFE"}) == "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("a piece of nothing but invalid bytes fits the buffer after expansion", "[text_streamer][utf8]") {
  const std::string bad(16, '\x80');
  std::string expected;
  for (int i = 0; i < 16 * 4; ++i) expected += "\xEF\xBF\xBD";
  CHECK(stream_all({bad, bad, bad, bad}) == expected);
}

TEST_CASE("streamed text equals the tokenizer's lossy decode of all bytes for random pieces", "[text_streamer][utf8]") {
  std::mt19937 rng(7);
  // Bytes biased towards UTF-8 structure: ASCII, leads, continuations, never-valid bytes.
  const unsigned char alphabet[] = {'a', ' ', 0x80, 0x9F, 0xA0, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0,
                                    0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xC0, 0xFF, 0x8F, 0x90};
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> pieces;
    std::string all;
    const int n = 1 + int(rng() % 12);
    for (int i = 0; i < n; ++i) {
      std::string p;
      const int len = int(rng() % 5);
      for (int j = 0; j < len; ++j) p += char(alphabet[rng() % sizeof alphabet]);
      pieces.push_back(p);
      all += p;
    }
    const std::string streamed = stream_all(pieces);
    CHECK(dse::tokenizer::find_invalid_utf8(streamed) == streamed.size());
    CHECK(streamed == lossy(all));
  }
}

TEST_CASE("a stop string is found in repaired text and invalid bytes never reach the caller", "[text_streamer][utf8]") {
  TextStreamer s = make({"\xEF\xBF\xBD" "END"});
  std::string out;
  auto r = s.push("ok\x80" "EN");
  out += r.text;
  CHECK_FALSE(r.stop_matched);
  r = s.push("D tail");
  out += r.text;
  CHECK(r.stop_matched);
  CHECK(out == "ok");
}
