// Shared by the tokenizer tests: the two real vocabularies, loaded once per test process.
#pragma once

#include <string>

#include <catch2/catch_test_macros.hpp>

#include "dse/tokenizer/load_tokenizer_json.h"
#include "dse/tokenizer/tokenizer.h"

namespace dse::tokenizer::testing {

inline std::string fixture_dir() { return DSE_TOKENIZER_FIXTURES; }

inline TokenizerData load_data(const std::string& name) {
  const std::string dir = fixture_dir() + "/" + name;
  auto data = load_tokenizer_json(dir + "/tokenizer.json", dir + "/tokenizer_config.json");
  INFO(data.status().message());
  REQUIRE(data.ok());
  return std::move(data.value());
}

// name: "deepseek-v3" or "qwen2.5" (folders under tests/fixtures/tokenizer).
inline Tokenizer& shared_tokenizer(const std::string& name) {
  static Tokenizer* deepseek = nullptr;
  static Tokenizer* qwen = nullptr;
  Tokenizer*& slot = name == "deepseek-v3" ? deepseek : qwen;
  if (slot == nullptr) {
    auto tok = Tokenizer::create(load_data(name));
    INFO(tok.status().message());
    REQUIRE(tok.ok());
    slot = new Tokenizer(std::move(tok.value()));  // lives for the whole test process
  }
  return *slot;
}

inline std::vector<int32_t> encode(Tokenizer& tok, std::string_view text, bool add_special = false) {
  std::vector<int32_t> ids;
  Status s = tok.encode(text, add_special, ids);
  INFO(s.message());
  REQUIRE(s.ok());
  return ids;
}

inline std::string decode(const Tokenizer& tok, const std::vector<int32_t>& ids,
                          bool skip_special = false) {
  std::string text;
  REQUIRE(tok.decode(ids, text, skip_special).ok());
  return text;
}

}  // namespace dse::tokenizer::testing
