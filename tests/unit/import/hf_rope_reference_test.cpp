// The importer's rope against transformers' own numbers (tests/fixtures/configs/
// hf_rope_reference.json, written by hf_rope_reference.py where torch is installed): inv_freq,
// the cos/sin amplitude, the attention softmax scale and cos/sin at a few positions.
#include <cmath>
#include <fstream>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "dse/import/model_config.h"
#include "dse/import/rope_table.h"

using namespace dse;
using namespace dse::importer;

namespace {

const std::filesystem::path kRepo = DSE_IMPORT_REPO_DIR;
const std::filesystem::path kReference = kRepo / "tests/fixtures/configs/hf_rope_reference.json";

bool close(double a, double b, double rel) { return std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b)); }

}  // namespace

TEST_CASE("rope frequencies, amplitude, softmax scale and tables match transformers", "[rope][hf]") {
  std::ifstream in(kReference);
  if (!in) SKIP("no " << kReference.string() << "; run tests/unit/import/hf_rope_reference.py where torch is installed");
  nlohmann::json ref = nlohmann::json::parse(in);
  REQUIRE(ref["cases"].size() > 0);
  int compared = 0;
  for (auto& [name, k] : ref["cases"].items()) {
    INFO(name);
    if (k.contains("error")) {
      WARN(name << ": transformers could not build it: " << k["error"].get<std::string>());
      continue;
    }
    auto c = load_model_config(kRepo / k["path"].get<std::string>());
    INFO(c.status().message());
    REQUIRE(c.ok());
    const ModelConfig& config = c.value();

    std::vector<double> inv = rope_inv_freq(config);
    const auto& hf_inv = k["inv_freq"];
    REQUIRE(inv.size() == hf_inv.size());
    int exact = 0;
    for (size_t j = 0; j < inv.size(); ++j) {
      INFO("inv_freq[" << j << "] = " << inv[j] << ", transformers " << hf_inv[j].get<double>());
      // Both are f32 values; torch's f32 pow may differ from a correctly rounded one by an ulp.
      CHECK(close(inv[j], hf_inv[j].get<double>(), 2.5e-7));
      exact += float(inv[j]) == float(hf_inv[j].get<double>());
    }
    CHECK(exact * 10 >= int(inv.size()) * 9);  // nearly all bit-identical
    CHECK(close(rope_attention_factor(config), k["attention_scaling"].get<double>(), 1e-12));
    CHECK(close(attention_softmax_scale(config), k["softmax_scale"].get<double>(), 1e-7));

    const int64_t D = rope_dim(config);
    for (size_t i = 0; i < k["positions"].size(); ++i) {
      const int64_t p = k["positions"][i].get<int64_t>();
      std::vector<float> row(static_cast<size_t>(D));
      REQUIRE(fill_rope_rows(config, p, p + 1, row).ok());
      for (int64_t j = 0; j < D / 2; ++j) {
        // An ulp of inv_freq moves the angle by p * inv * 2^-24.
        const double tol = 2e-6 + double(p) * inv[size_t(j)] * 1.2e-7;
        INFO("position " << p << " pair " << j);
        CHECK(std::fabs(row[size_t(j)] - k["cos"][i][size_t(j)].get<double>()) <= tol);
        CHECK(std::fabs(row[size_t(D / 2 + j)] - k["sin"][i][size_t(j)].get<double>()) <= tol);
      }
    }
    ++compared;
  }
  CHECK(compared > 0);
}
