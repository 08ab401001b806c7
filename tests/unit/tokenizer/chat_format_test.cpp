// Tests of deriving a ChatFormat from the DeepSeek (V3, R1) and ChatML chat templates.
#include "dse/tokenizer/chat_format.h"

#include <fstream>
#include <sstream>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "test_tokenizers.h"

using namespace dse::tokenizer;

namespace {
const std::string kBos = "<｜begin▁of▁sentence｜>";
const std::string kEos = "<｜end▁of▁sentence｜>";

std::string config_template(const std::string& name) {
  std::ifstream in(testing::fixture_dir() + "/" + name + "/tokenizer_config.json");
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str()).at("chat_template").get<std::string>();
}
}  // namespace

TEST_CASE("the DeepSeek-V3 template gives BOS, User and Assistant markers and an EOS suffix") {
  const std::string tpl = config_template("deepseek-v3");
  auto f = derive_chat_format(tpl, kBos, kEos);
  REQUIRE(f.ok());
  CHECK(f->begin == kBos);
  CHECK(f->system_prefix.empty());
  CHECK(f->user_prefix == "<｜User｜>");
  CHECK(f->user_suffix.empty());
  CHECK(f->assistant_prefix == "<｜Assistant｜>");
  CHECK(f->assistant_suffix == kEos);
  CHECK(f->template_source == tpl);
}

TEST_CASE("an R1 template that opens the answer with <think> puts it in the assistant prefix") {
  // The generation-prompt tail of DeepSeek-R1's template, as tokenizer_config.json stores it.
  const std::string tpl =
      "{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == "
      "'user' %}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == "
      "'assistant' %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}"
      "{%- endfor -%}{% if add_generation_prompt %}{{'<｜Assistant｜><think>\\n'}}{% endif %}";
  auto f = derive_chat_format(tpl, kBos, kEos);
  REQUIRE(f.ok());
  CHECK(f->assistant_prefix == "<｜Assistant｜><think>\n");
  CHECK(f->user_prefix == "<｜User｜>");
  CHECK(f->begin == kBos);
}

TEST_CASE("the Qwen2 ChatML template gives im_start/im_end turns") {
  auto f = derive_chat_format(config_template("qwen2.5"), "", "<|im_end|>");
  REQUIRE(f.ok());
  CHECK(f->begin.empty());
  CHECK(f->user_prefix == "<|im_start|>user\n");
  CHECK(f->user_suffix == "<|im_end|>\n");
  CHECK(f->assistant_prefix == "<|im_start|>assistant\n");
  CHECK(f->system_prefix == "<|im_start|>system\n");
}

TEST_CASE("an unknown chat template is rejected with a hint to pass an override") {
  auto f = derive_chat_format("{% for m in messages %}[{{m.role}}] {{m.content}}{% endfor %}", "", "");
  REQUIRE_FALSE(f.ok());
  CHECK(f.status().code() == dse::StatusCode::unsupported);
  CHECK(f.status().message().find("chat_template") != std::string::npos);
  CHECK(f.status().message().find("override") != std::string::npos);
}

TEST_CASE("an empty chat template gives an empty chat format") {
  auto f = derive_chat_format("", kBos, kEos);
  REQUIRE(f.ok());
  CHECK(f->user_prefix.empty());
  CHECK(f->assistant_prefix.empty());
}
