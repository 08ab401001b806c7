// Tests of StreamDecoder: only complete UTF-8 comes out, and it adds up to decode().
#include "dse/tokenizer/stream_decoder.h"

#include <random>

#include <catch2/catch_test_macros.hpp>

#include "dse/tokenizer/utf8.h"
#include "test_tokenizers.h"

using namespace dse::tokenizer;
using testing::shared_tokenizer;

namespace {
// Streams ids one by one; checks every piece is complete UTF-8; returns the joined text.
std::string stream_all(const Tokenizer& tok, const std::vector<int32_t>& ids, bool skip = false) {
  StreamDecoder dec(tok, skip);
  std::string all, piece;
  for (int32_t id : ids) {
    piece.clear();
    REQUIRE(dec.push(id, piece).ok());
    CHECK(find_invalid_utf8(piece) == piece.size());
    CHECK(dec.pending_bytes() <= 3);
    all += piece;
  }
  piece.clear();
  dec.finish(piece);
  all += piece;
  CHECK(dec.pending_bytes() == 0);
  return all;
}
}  // namespace

TEST_CASE("streaming a character split over byte tokens holds it back until it is complete") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  // 😀 = F0 9F 98 80 as four single-byte tokens (GPT-2 byte characters ð Ł ĺ Ģ).
  std::vector<int32_t> ids;
  for (const char* ch : {"\xC3\xB0", "\xC5\x81", "\xC4\xBA", "\xC4\xA2"}) {
    auto id = tok.token_to_id(ch);
    REQUIRE(id.has_value());
    ids.push_back(*id);
  }
  StreamDecoder dec(tok);
  std::string out;
  for (size_t i = 0; i < 3; ++i) {
    REQUIRE(dec.push(ids[i], out).ok());
    CHECK(out.empty());
  }
  REQUIRE(dec.push(ids[3], out).ok());
  CHECK(out == "\xF0\x9F\x98\x80");
}

TEST_CASE("streamed text equals decode() for real text in both vocabularies") {
  const std::string text =
      "Hello 世界! 👨‍👩‍👧‍👦 Привет 🏳️‍🌈 ok\n\tमैं <｜User｜> <|im_end|> 123456 ﬁ";
  for (const char* name : {"deepseek-v3", "qwen2.5"}) {
    Tokenizer& tok = shared_tokenizer(name);
    const auto ids = testing::encode(tok, text);
    CHECK(stream_all(tok, ids) == testing::decode(tok, ids));
    CHECK(stream_all(tok, ids, true) == testing::decode(tok, ids, true));
  }
}

TEST_CASE("streamed text equals decode() for random id sequences, invalid UTF-8 included") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  std::mt19937 rng(99);
  for (int round = 0; round < 200; ++round) {
    std::vector<int32_t> ids(rng() % 20);
    for (int32_t& id : ids) {
      // Mostly single-byte tokens (ids below ~300 hold them), so characters get split.
      id = static_cast<int32_t>(rng() % 4 == 0 ? rng() % tok.id_count() : rng() % 300);
    }
    CHECK(stream_all(tok, ids) == testing::decode(tok, ids));
  }
}

TEST_CASE("finish turns an unfinished character into U+FFFD and resets") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  auto lead = tok.token_to_id("\xC3\xA4");  // byte 0xE4: starts a 3-byte character
  REQUIRE(lead.has_value());
  StreamDecoder dec(tok);
  std::string out;
  REQUIRE(dec.push(*lead, out).ok());
  CHECK(out.empty());
  CHECK(dec.pending_bytes() == 1);
  dec.finish(out);
  CHECK(out == "\xEF\xBF\xBD");
  CHECK(dec.pending_bytes() == 0);
}
