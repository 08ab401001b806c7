// Exact match with Hugging Face tokenizers on the generated fixtures (scripts/gen_tokenizer_fixtures.py).
#include <fstream>
#include <string>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "test_tokenizers.h"

using namespace dse::tokenizer;

namespace {

struct MatchCounts {
  size_t records = 0;
  size_t encode_mismatches = 0;
  size_t decode_mismatches = 0;
};

std::string preview(const std::string& s) {
  std::string j = nlohmann::json(s).dump();
  return j.size() > 160 ? j.substr(0, 157) + "..." : j;
}

std::string show_ids(const std::vector<int32_t>& ids) {
  std::string s;
  for (size_t i = 0; i < ids.size() && i < 40; ++i) s += (i ? " " : "") + std::to_string(ids[i]);
  if (ids.size() > 40) s += " ...";
  return s;
}

MatchCounts match_fixture(const std::string& name) {
  const std::string path = testing::fixture_dir() + "/" + name + ".encode.jsonl";
  std::ifstream in(path);
  INFO("missing " << path << ": generate it where the Python tokenizers package exists with\n"
                  "  python3 scripts/gen_tokenizer_fixtures.py --out tests/fixtures/tokenizer");
  REQUIRE(in.good());
  Tokenizer& tok = testing::shared_tokenizer(name);
  MatchCounts counts;
  std::string line;
  std::vector<int32_t> ids;
  std::string text;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json rec = nlohmann::json::parse(line);
    const std::string input = rec.at("text").get<std::string>();
    const auto want = rec.at("ids").get<std::vector<int32_t>>();
    ++counts.records;
    const dse::Status s = tok.encode(input, rec.value("add_special", false), ids);
    if (!s.ok() || ids != want) {
      if (++counts.encode_mismatches <= 10) {
        UNSCOPED_INFO(name << " encode mismatch on " << preview(input) << "\n  hf:   "
                           << show_ids(want) << "\n  ours: " << show_ids(ids) << " "
                           << s.message());
      }
    }
    const std::string want_text = rec.contains("decoded") ? rec["decoded"].get<std::string>() : input;
    if (!tok.decode(want, text).ok() || text != want_text) {
      if (++counts.decode_mismatches <= 10) {
        UNSCOPED_INFO(name << " decode mismatch on " << preview(want_text) << "\n  ours: "
                           << preview(text));
      }
    }
  }
  return counts;
}

}  // namespace

TEST_CASE("DeepSeek-V3 encode and decode match Hugging Face on every fixture string") {
  const MatchCounts c = match_fixture("deepseek-v3");
  CHECK(c.records >= 2000);
  CHECK(c.encode_mismatches == 0);
  CHECK(c.decode_mismatches == 0);
}

TEST_CASE("Qwen2 encode and decode match Hugging Face on every fixture string") {
  const MatchCounts c = match_fixture("qwen2.5");
  CHECK(c.records >= 2000);
  CHECK(c.encode_mismatches == 0);
  CHECK(c.decode_mismatches == 0);
}
