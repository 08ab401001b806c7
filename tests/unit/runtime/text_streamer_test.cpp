// The text streamer: stop strings across token boundaries and whole UTF-8 characters.
#include "dse/runtime/text_streamer.h"

#include <catch2/catch_test_macros.hpp>
#include <string>
#include <vector>

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
