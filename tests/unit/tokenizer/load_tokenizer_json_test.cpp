// Tests of load_tokenizer_json on the real DeepSeek-V3 and Qwen2 files and on unsupported ones.
#include "dse/tokenizer/load_tokenizer_json.h"

#include <catch2/catch_test_macros.hpp>

#include "test_tokenizers.h"

using namespace dse::tokenizer;

namespace {
// A minimal byte-level BPE tokenizer.json with a replaceable part.
std::string tiny_json(const std::string& model_type, const std::string& pre_tokenizer) {
  std::string vocab = "{";
  // Every byte-level character must be present for Tokenizer::create; the loader itself only
  // needs a well-formed vocabulary.
  vocab += R"("a": 0, "b": 1, "ab": 2)";
  vocab += "}";
  return R"({"version": "1.0", "added_tokens": [], "normalizer": null, "pre_tokenizer": )" +
         pre_tokenizer + R"(, "post_processor": null, "decoder": {"type": "ByteLevel"},
         "model": {"type": ")" + model_type + R"(", "vocab": )" + vocab +
         R"(, "merges": ["a b"]}})";
}
const std::string kByteLevel = R"({"type": "ByteLevel", "add_prefix_space": false, "use_regex": true})";
}  // namespace

TEST_CASE("the DeepSeek-V3 tokenizer.json loads with its vocabulary, merges and specials") {
  TokenizerData d = testing::load_data("deepseek-v3");
  CHECK(d.vocab.size() == 128000);
  CHECK(d.merges.size() == 127741);
  CHECK(d.added_tokens.size() == 818);
  CHECK(d.normalizer.empty());
  REQUIRE(d.pre_tokenizer.size() == 4);
  CHECK(d.pre_tokenizer[0].kind == "split");
  CHECK(d.pre_tokenizer[0].pattern == R"(\p{N}{1,3})");
  CHECK(d.pre_tokenizer[0].behavior == "isolated");
  CHECK(d.pre_tokenizer[3].kind == "byte_level");
  CHECK_FALSE(d.pre_tokenizer[3].use_regex);
  CHECK(d.bos_id == 0);
  CHECK(d.eos_id == 1);
  CHECK(d.pad_id == 1);
  CHECK(d.add_bos);
  CHECK_FALSE(d.add_eos);
  CHECK(d.chat.user_prefix == "<｜User｜>");
}

TEST_CASE("the Qwen2 tokenizer.json loads with NFC, no BOS and the im_end EOS") {
  TokenizerData d = testing::load_data("qwen2.5");
  CHECK(d.vocab.size() == 151643);
  CHECK(d.merges.size() == 151387);
  CHECK(d.normalizer == "nfc");
  CHECK(d.bos_id == -1);
  CHECK_FALSE(d.add_bos);
  CHECK(d.eos_id == 151645);
  CHECK(d.pad_id == 151643);
  CHECK(d.chat.assistant_prefix == "<|im_start|>assistant\n");
}

TEST_CASE("a chat template override replaces the config's template") {
  const std::string dir = testing::fixture_dir() + "/qwen2.5";
  const std::string tpl = "{{bos_token}}<｜User｜>{{q}}<｜Assistant｜>";
  auto d = load_tokenizer_json(dir + "/tokenizer.json", dir + "/tokenizer_config.json", tpl);
  REQUIRE(d.ok());
  CHECK(d->chat.user_prefix == "<｜User｜>");
  CHECK(d->chat.template_source == tpl);
}

TEST_CASE("a non-BPE model is rejected naming model.type") {
  auto d = parse_tokenizer_json(tiny_json("Unigram", kByteLevel), "");
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == dse::StatusCode::unsupported);
  CHECK(d.status().message().find("model.type") != std::string::npos);
}

TEST_CASE("an unsupported pre-tokenizer is rejected naming its JSON key") {
  const std::string seq = R"({"type": "Sequence", "pretokenizers": [)" + kByteLevel +
                          R"(, {"type": "Metaspace", "replacement": "_"}]})";
  auto d = parse_tokenizer_json(tiny_json("BPE", seq), "");
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == dse::StatusCode::unsupported);
  CHECK(d.status().message().find("pre_tokenizer.pretokenizers[1].type") != std::string::npos);
  CHECK(d.status().message().find("Metaspace") != std::string::npos);
}

TEST_CASE("a tokenizer without a ByteLevel step is rejected") {
  auto d = parse_tokenizer_json(tiny_json("BPE", R"({"type": "Digits"})"), "");
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().message().find("ByteLevel") != std::string::npos);
}

TEST_CASE("malformed JSON is reported as corrupt data, not thrown") {
  auto d = parse_tokenizer_json("{\"model\": [", "");
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == dse::StatusCode::corrupt_data);
}

TEST_CASE("a missing tokenizer.json is reported as not found") {
  auto d = load_tokenizer_json("/nonexistent/tokenizer.json", "");
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == dse::StatusCode::not_found);
}
