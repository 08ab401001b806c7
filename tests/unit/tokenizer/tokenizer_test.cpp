// Tests of Tokenizer encode/decode on the real vocabularies: known ids, added tokens, round trips.
#include "dse/tokenizer/tokenizer.h"

#include <algorithm>
#include <random>

#include <catch2/catch_test_macros.hpp>

#include "dse/tokenizer/utf8.h"
#include "test_tokenizers.h"

using namespace dse::tokenizer;
using testing::decode;
using testing::encode;
using testing::shared_tokenizer;
using Ids = std::vector<int32_t>;

namespace {
Ids concat(Ids a, const Ids& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Text in many scripts, code, emoji, whitespace runs and control characters; all NFC.
const std::vector<std::string> kSamples = {
    "", " ", "Hello world", "  leading and trailing  ", "I'm sure they'll say it's FINE'S",
    "你好，世界！深度求索", "こんにちは、カタカナとひらがな", "안녕하세요 세계", "مرحبا بالعالم",
    "नमस्ते दुनिया", "Привет, мир!", "def f(x):\n\treturn x**2  # square\n",
    "👨‍👩‍👧‍👦 🏳️‍🌈 👍🏽", "1234567890 3.14159 1e-10", "\t\t\n\n\r\n   \u00a0\u3000x",
    std::string("nul\0byte", 8), "\x01\x02\x7f", "tabs\tand\nnewlines\n\n\n",
    "<｜User｜>hi<｜Assistant｜>", "<|im_start|>user\nhi<|im_end|>", "a<｜User", "ﬁ Ⅻ ℃",
};
}  // namespace

TEST_CASE("Qwen2 ids match Hugging Face on plain text") {
  // Ids produced by HF tokenizers for Qwen2 (llama.cpp's qwen2 test vectors).
  Tokenizer& tok = shared_tokenizer("qwen2.5");
  CHECK(encode(tok, "Hello world") == Ids{9707, 1879});
  CHECK(encode(tok, " Hello world") == Ids{21927, 1879});
  CHECK(encode(tok, "Hello, world!") == Ids{9707, 11, 1879, 0});
  CHECK(encode(tok, "ied 4 ½ months") == Ids{1122, 220, 19, 220, 26062, 3951});
  CHECK(encode(tok, "Führer") == Ids{37, 50753, 261});
  CHECK(encode(tok, "   ") == Ids{262});
  CHECK(encode(tok, "\n\n") == Ids{271});
  CHECK(encode(tok, "' era") == Ids{6, 11385});
  CHECK(encode(tok, "333333333") == Ids(9, 18));  // Qwen2 splits every digit
  CHECK(encode(tok, "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～") ==
        Ids{9707, 11, 379, 64848, 0, 2585, 525, 498, 26525, 223, 937, 104100, 18493, 22377,
            99257, 16, 18, 16, 19, 16, 20, 16, 35727, 21216});
}

TEST_CASE("DeepSeek-V3 groups digits by three, as its first Split pre-tokenizer says") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  CHECK(encode(tok, "12345") == concat(encode(tok, "123"), encode(tok, "45")));
  CHECK(encode(tok, "1234567") ==
        concat(concat(encode(tok, "123"), encode(tok, "456")), encode(tok, "7")));
}

TEST_CASE("DeepSeek-V3 added tokens are matched before BPE, including non-special ones") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  CHECK(encode(tok, "<｜User｜>") == Ids{128803});
  CHECK(encode(tok, "Hello<｜Assistant｜>") == concat(encode(tok, "Hello"), Ids{128804}));
  CHECK(encode(tok, "<｜end▁of▁sentence｜><｜end▁of▁sentence｜>") == Ids{1, 1});
  const Ids partial = encode(tok, "a<｜User");
  CHECK(std::find(partial.begin(), partial.end(), 128803) == partial.end());
  CHECK(tok.is_special(0));
  CHECK_FALSE(tok.is_special(128803));  // <｜User｜> is an added token but not special
}

TEST_CASE("add_special puts BOS first for DeepSeek-V3 and nothing for Qwen2") {
  Tokenizer& ds = shared_tokenizer("deepseek-v3");
  CHECK(encode(ds, "Hello", true) == concat(Ids{0}, encode(ds, "Hello")));
  CHECK(encode(ds, "", true) == Ids{0});
  Tokenizer& qw = shared_tokenizer("qwen2.5");
  CHECK(encode(qw, "Hello", true) == encode(qw, "Hello"));
}

TEST_CASE("Qwen2 special tokens split the text and DeepSeek's markers stay plain text there") {
  Tokenizer& tok = shared_tokenizer("qwen2.5");
  const Ids ids = encode(tok, "<|im_start|>user\nhi<|im_end|>");
  REQUIRE(ids.size() >= 3);
  CHECK(ids.front() == 151644);
  CHECK(ids.back() == 151645);
  for (int32_t id : encode(tok, "<｜User｜><｜begin▁of▁sentence｜>")) CHECK(id < 151643);
}

TEST_CASE("Qwen2 normalizes to NFC before tokenizing") {
  Tokenizer& tok = shared_tokenizer("qwen2.5");
  CHECK(encode(tok, "caf\xC3\xA9") == encode(tok, "cafe\xCC\x81"));              // é vs e + U+0301
  CHECK(encode(tok, "\xE3\x81\x8C") == encode(tok, "\xE3\x81\x8B\xE3\x82\x99"));  // が vs か + U+3099
  // DeepSeek-V3 has no normalizer: the two spellings differ.
  Tokenizer& ds = shared_tokenizer("deepseek-v3");
  CHECK(encode(ds, "caf\xC3\xA9") != encode(ds, "cafe\xCC\x81"));
}

TEST_CASE("decode(encode(text)) gives the text back for both vocabularies") {
  for (const char* name : {"deepseek-v3", "qwen2.5"}) {
    Tokenizer& tok = shared_tokenizer(name);
    for (const std::string& s : kSamples) {
      INFO(name << ": " << s);
      CHECK(decode(tok, encode(tok, s)) == s);
    }
  }
}

TEST_CASE("decode leaves special tokens out when asked, but keeps non-special added tokens") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  const Ids ids = encode(tok, "<｜begin▁of▁sentence｜><｜User｜>Hi<｜end▁of▁sentence｜>");
  CHECK(decode(tok, ids) == "<｜begin▁of▁sentence｜><｜User｜>Hi<｜end▁of▁sentence｜>");
  CHECK(decode(tok, ids, /*skip_special=*/true) == "<｜User｜>Hi");
}

TEST_CASE("decode turns ids past the vocabulary into nothing and split bytes into U+FFFD") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  const Ids hello = encode(tok, "Hello");
  CHECK(decode(tok, concat(hello, Ids{129000, 200000})) == "Hello");
  // The first byte of "中" alone is not valid UTF-8.
  const Ids one_byte = encode(tok, "\xE4\xB8\xAD");
  REQUIRE(!one_byte.empty());
  const auto b0 = tok.token_to_id("\xC3\xA4");  // byte 0xE4 in the GPT-2 byte map is U+00E4
  REQUIRE(b0.has_value());
  CHECK(decode(tok, Ids{*b0}) == "\xEF\xBF\xBD");
}

TEST_CASE("encode rejects invalid UTF-8 with the byte offset and writes no ids") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  Ids ids{1, 2, 3};
  dse::Status s = tok.encode("abc\xFF" "def", false, ids);
  CHECK(s.code() == dse::StatusCode::invalid_argument);
  CHECK(s.message().find("byte 3") != std::string::npos);
  CHECK(ids.empty());
  CHECK(tok.encode("\xED\xA0\x80", false, ids).code() == dse::StatusCode::invalid_argument);
}

TEST_CASE("random bytes never crash encode, and their lossy repair always round-trips") {
  Tokenizer& tok = shared_tokenizer("deepseek-v3");
  std::mt19937 rng(1234);
  Ids ids;
  for (int round = 0; round < 300; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() & 0xFF);
    const dse::Status s = tok.encode(bytes, false, ids);
    CHECK((s.ok() || s.code() == dse::StatusCode::invalid_argument));
    std::string repaired;
    append_utf8_lossy(bytes, repaired);
    REQUIRE(tok.encode(repaired, false, ids).ok());
    CHECK(decode(tok, ids) == repaired);
  }
}

TEST_CASE("a long input of one repeated character encodes and round-trips") {
  for (const char* name : {"deepseek-v3", "qwen2.5"}) {
    Tokenizer& tok = shared_tokenizer(name);
    const std::string text(100000, 'a');
    const Ids ids = encode(tok, text);
    CHECK(ids.size() < text.size() / 4);  // merged, not left as bytes
    CHECK(decode(tok, ids) == text);
  }
}

TEST_CASE("Tokenizer::create rejects a merge of tokens that are not in the vocabulary") {
  TokenizerData d = testing::load_data("qwen2.5");
  d.merges.push_back("notatoken alsonot");
  auto tok = Tokenizer::create(std::move(d));
  REQUIRE_FALSE(tok.ok());
  CHECK(tok.status().code() == dse::StatusCode::invalid_argument);
  CHECK(tok.status().message().find("notatoken") != std::string::npos);
}

TEST_CASE("Tokenizer::create rejects a vocabulary without the byte tokens") {
  TokenizerData d;
  d.vocab = {"a", "b"};
  auto tok = Tokenizer::create(std::move(d));
  REQUIRE_FALSE(tok.ok());
  CHECK(tok.status().message().find("byte") != std::string::npos);
}

TEST_CASE("Tokenizer::create rejects a pattern PCRE2 cannot compile") {
  TokenizerData d = testing::load_data("qwen2.5");
  d.pre_tokenizer.insert(d.pre_tokenizer.begin(), PreTokenizerStep{"split", "(unclosed", "isolated"});
  auto tok = Tokenizer::create(std::move(d));
  REQUIRE_FALSE(tok.ok());
  CHECK(tok.status().message().find("(unclosed") != std::string::npos);
}

namespace {
// Qwen2 data plus one extra added token with the given flags (no vocabulary uses these flags,
// so they are checked against HF's documented AddedVocabulary rules instead).
Tokenizer qwen_with(AddedToken extra) {
  TokenizerData d = testing::load_data("qwen2.5");
  extra.id = 151665;
  d.added_tokens.push_back(extra);
  auto tok = Tokenizer::create(std::move(d));
  REQUIRE(tok.ok());
  return std::move(tok.value());
}
}  // namespace

TEST_CASE("an lstrip added token swallows the whitespace before it, rstrip the one after") {
  Tokenizer& plain = shared_tokenizer("qwen2.5");
  AddedToken t;
  t.content = "<mask>";
  t.lstrip = true;
  Tokenizer left = qwen_with(t);
  CHECK(encode(left, "a  <mask> b") == concat(concat(encode(plain, "a"), Ids{151665}), encode(plain, " b")));
  t.lstrip = false;
  t.rstrip = true;
  Tokenizer right = qwen_with(t);
  CHECK(encode(right, "a <mask>  b") == concat(concat(encode(plain, "a "), Ids{151665}), encode(plain, "b")));
}

TEST_CASE("a single_word added token matches only outside words") {
  Tokenizer& plain = shared_tokenizer("qwen2.5");
  AddedToken t;
  t.content = "cat";
  t.single_word = true;
  Tokenizer tok = qwen_with(t);
  CHECK(encode(tok, "a cat!") == concat(concat(encode(plain, "a "), Ids{151665}), encode(plain, "!")));
  CHECK(encode(tok, "concat") == encode(plain, "concat"));
  CHECK(encode(tok, "cats") == encode(plain, "cats"));
}

TEST_CASE("a normalized added token is matched after NFC, a raw one before") {
  Tokenizer& plain = shared_tokenizer("qwen2.5");
  AddedToken t;
  t.content = "caf\xC3\xA9";  // café, precomposed
  t.normalized = true;
  Tokenizer norm = qwen_with(t);
  CHECK(encode(norm, "cafe\xCC\x81") == Ids{151665});  // decomposed input, NFC makes it match
  t.normalized = false;
  Tokenizer raw = qwen_with(t);
  CHECK(encode(raw, "cafe\xCC\x81") == encode(plain, "caf\xC3\xA9"));  // raw match fails first
}
