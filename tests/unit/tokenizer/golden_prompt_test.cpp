// The tiny golden models' prompts (tests/fixtures/golden) encode to the ids transformers gave.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "dse/tokenizer/load_tokenizer_json.h"
#include "dse/tokenizer/tokenizer.h"

using namespace dse::tokenizer;

TEST_CASE("golden model prompts encode with BOS to the ids transformers produced") {
  namespace fs = std::filesystem;
  const fs::path golden = fs::path(DSE_TOKENIZER_FIXTURES).parent_path() / "golden";
  size_t checked = 0;
  for (const auto& entry : fs::directory_iterator(golden)) {
    const fs::path dir = entry.path();
    if (!fs::exists(dir / "golden.json") || !fs::exists(dir / "tokenizer.json")) continue;
    INFO(dir.string());
    std::ifstream in(dir / "golden.json");
    std::stringstream ss;
    ss << in.rdbuf();
    const nlohmann::json g = nlohmann::json::parse(ss.str());
    auto data = load_tokenizer_json((dir / "tokenizer.json").string(),
                                    (dir / "tokenizer_config.json").string());
    INFO(data.status().message());
    REQUIRE(data.ok());
    auto tok = Tokenizer::create(std::move(data.value()));
    REQUIRE(tok.ok());
    std::vector<int32_t> ids;
    REQUIRE(tok->encode(g.at("prompt").get<std::string>(), true, ids).ok());
    CHECK(ids == g.at("prompt_ids").get<std::vector<int32_t>>());
    ++checked;
  }
  CHECK(checked >= 1);
}
