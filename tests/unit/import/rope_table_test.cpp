// Rope frequencies for every scaling type against ARCHITECTURES.md §2.5-2.7 and §6, the MLA
// softmax scale, and the cos/sin table layout of docs/KERNELS.md.
#include "dse/import/rope_table.h"

#include <cmath>
#include <algorithm>
#include <numbers>

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

using namespace dse;
using namespace dse::importer;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;

namespace {

const std::filesystem::path kConfigs = DSE_IMPORT_CONFIGS_DIR;

ModelConfig load(const char* file) {
  auto c = load_model_config(kConfigs / file);
  INFO(c.status().message());
  REQUIRE(c.ok());
  return c.value();
}

ModelConfig parse(const std::string& json) {
  auto c = parse_model_config(json, "test");
  INFO(c.status().message());
  REQUIRE(c.ok());
  return c.value();
}

ModelConfig llama(const std::string& rope_scaling, double theta = 10000.0) {
  return parse(R"({"architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_attention_heads": 32,
                   "max_position_embeddings": 4096, "rope_theta": )" +
               std::to_string(theta) + R"(, "rope_scaling": )" + rope_scaling + "}");
}

}  // namespace

TEST_CASE("YaRN inverse frequencies of DeepSeek-V3 match ARCHITECTURES.md 2.7", "[rope]") {
  ModelConfig c = load("DeepSeek-V3.json");
  std::vector<double> inv = rope_inv_freq(c);
  REQUIRE(inv.size() == 32);
  CHECK(inv[0] == Approx(1.0).epsilon(1e-6));
  CHECK(inv[1] == Approx(0.749894).epsilon(1e-5));
  CHECK(inv[2] == Approx(0.562341).epsilon(1e-5));
  CHECK(inv[3] == Approx(0.421697).epsilon(1e-5));
  CHECK(inv[29] == Approx(5.9284e-06).epsilon(1e-4));
  CHECK(inv[30] == Approx(4.4457e-06).epsilon(1e-4));
  CHECK(inv[31] == Approx(3.3338e-06).epsilon(1e-4));
  // Dims up to 10 keep the original frequency, dims from 23 on are divided by 40.
  CHECK(inv[10] == Approx(std::pow(10000.0, -20.0 / 64)).epsilon(1e-6));
  CHECK(inv[23] == Approx(std::pow(10000.0, -46.0 / 64) / 40).epsilon(1e-6));
  CHECK(inv[15] < std::pow(10000.0, -30.0 / 64));
  CHECK(inv[15] > std::pow(10000.0, -30.0 / 64) / 40);
  CHECK(rope_attention_factor(c) == 1.0);  // mscale == mscale_all_dim
}

TEST_CASE("the MLA softmax scale includes the YaRN mscale squared", "[rope]") {
  CHECK(attention_softmax_scale(load("DeepSeek-V2-Lite.json")) == Approx(0.114721).margin(1e-6));
  CHECK(attention_softmax_scale(load("DeepSeek-V3.json")) == Approx(0.135234).margin(1e-6));
  // Without rope scaling it is the plain (dn + dr)^-0.5.
  ModelConfig plain = parse(R"({"architectures": ["DeepseekV3ForCausalLM"]})");
  CHECK(attention_softmax_scale(plain) == Approx(std::pow(192.0, -0.5)).epsilon(1e-12));
  // Llama: head_dim^-0.5.
  CHECK(attention_softmax_scale(llama("null")) == Approx(std::pow(128.0, -0.5)).epsilon(1e-12));
}

TEST_CASE("the YaRN amplitude follows mscale, mscale_all_dim and attention_factor", "[rope]") {
  auto yarn = [](const std::string& extra) {
    return parse(R"({"architectures": ["DeepseekV3ForCausalLM"], "max_position_embeddings": 163840,
      "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096)" +
                 extra + "}}");
  };
  CHECK(rope_attention_factor(yarn("")) == Approx(0.1 * std::log(40.0) + 1.0).epsilon(1e-12));
  CHECK(rope_attention_factor(yarn(R"(, "mscale": 1.0, "mscale_all_dim": 0.707)")) ==
        Approx((0.1 * std::log(40.0) + 1.0) / (0.0707 * std::log(40.0) + 1.0)).epsilon(1e-12));
  CHECK(rope_attention_factor(yarn(R"(, "attention_factor": 1.25)")) == 1.25);
  ModelConfig amp = yarn(R"(, "attention_factor": 1.25)");
  std::vector<float> table(static_cast<size_t>(3 * 64));
  REQUIRE(fill_rope_table(amp, 3, table).ok());
  CHECK(table[0] == Approx(1.25f));             // cos(0) * a
  CHECK(table[32] == 0.0f);                     // sin(0) * a
  CHECK(table[64 + 0] == Approx(std::cos(1.0) * 1.25).epsilon(1e-6));
}

TEST_CASE("linear scaling divides every frequency by the factor", "[rope]") {
  ModelConfig c = llama(R"({"type": "linear", "factor": 4.0})", 100000.0);
  std::vector<double> inv = rope_inv_freq(c);
  REQUIRE(inv.size() == 64);
  for (int j = 0; j < 64; ++j) CHECK(inv[size_t(j)] == Approx(std::pow(100000.0, -2.0 * j / 128) / 4).epsilon(1e-6));
}

TEST_CASE("llama3 scaling keeps high frequencies, divides low ones and blends between", "[rope]") {
  ModelConfig c = llama(R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})",
                        500000.0);
  std::vector<double> inv = rope_inv_freq(c);
  REQUIRE(inv.size() == 64);
  int kept = 0, divided = 0, blended = 0;
  for (int j = 0; j < 64; ++j) {
    double f = std::pow(500000.0, -2.0 * j / 128), wavelen = 2 * std::numbers::pi / f, expected;
    if (wavelen < 2048) {
      expected = f;
      ++kept;
    } else if (wavelen > 8192) {
      expected = f / 8;
      ++divided;
    } else {
      double t = (8192 / wavelen - 1) / 3;
      expected = (1 - t) * f / 8 + t * f;
      ++blended;
    }
    INFO("j = " << j);
    CHECK(inv[size_t(j)] == Approx(expected).epsilon(1e-5));
  }
  CHECK(kept > 0);
  CHECK(divided > 0);
  CHECK(blended > 0);
  CHECK(inv[0] == 1.0);
  CHECK(inv[21] == Approx(0.013490419890226748).epsilon(1e-5));
}

TEST_CASE("without scaling the frequencies are theta^(-2j/d)", "[rope]") {
  std::vector<double> inv = rope_inv_freq(llama("null"));
  REQUIRE(inv.size() == 64);
  for (int j = 0; j < 64; ++j) CHECK(inv[size_t(j)] == Approx(std::pow(10000.0, -2.0 * j / 128)).epsilon(1e-6));
}

TEST_CASE("dynamic NTK equals plain rope within the trained context and is refused beyond it", "[rope]") {
  ModelConfig c = llama(R"({"type": "dynamic", "factor": 2.0})");
  CHECK(rope_inv_freq(c) == rope_inv_freq(llama("null")));
  CHECK(check_rope_supported(c, 4096).ok());
  Status s = check_rope_supported(c, 8192);
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_THAT(s.message(), ContainsSubstring("dynamic"));
  CHECK_THAT(s.message(), ContainsSubstring("4096"));
  std::vector<float> table(static_cast<size_t>(8192 * 128));
  CHECK(fill_rope_table(c, 8192, table).code() == StatusCode::unsupported);
}

TEST_CASE("the rope table holds cos then sin per position, as rope_f32 reads it", "[rope]") {
  ModelConfig c = load("DeepSeek-V3.json");
  const int64_t P = 40, D = rope_dim(c);
  REQUIRE(D == 64);
  std::vector<float> table(static_cast<size_t>(P * D));
  REQUIRE(fill_rope_table(c, P, table).ok());
  std::vector<double> inv = rope_inv_freq(c);
  for (int64_t p : {0, 1, 17, 39})
    for (int64_t j = 0; j < D / 2; ++j) {
      double angle = double(float(p) * float(inv[size_t(j)]));
      CHECK(table[size_t(p * D + j)] == Approx(std::cos(angle)).margin(1e-6));
      CHECK(table[size_t(p * D + D / 2 + j)] == Approx(std::sin(angle)).margin(1e-6));
    }
  std::vector<float> wrong(10);
  CHECK(fill_rope_table(c, P, wrong).code() == StatusCode::invalid_argument);
  // Any row range gives the same rows.
  std::vector<float> rows(static_cast<size_t>(5 * D));
  REQUIRE(fill_rope_rows(c, 30, 35, rows).ok());
  CHECK(std::equal(rows.begin(), rows.end(), table.begin() + 30 * D));
}

TEST_CASE("rope geometry: MLA rotates dr dims after dn in adjacent pairs, Llama the whole head in halves",
          "[rope]") {
  ModelConfig v3 = load("DeepSeek-V3.json");
  CHECK(rope_dim(v3) == 64);
  CHECK(rope_offset(v3) == 128);
  CHECK(rope_interleaved(v3));
  ModelConfig lite = load("DeepSeek-V2-Lite.json");
  CHECK(rope_interleaved(lite));
  ModelConfig v3_halves = parse(R"({"architectures": ["DeepseekV3ForCausalLM"], "rope_interleave": false})");
  CHECK_FALSE(rope_interleaved(v3_halves));
  ModelConfig l = llama("null");
  CHECK(rope_dim(l) == 128);
  CHECK(rope_offset(l) == 0);
  CHECK_FALSE(rope_interleaved(l));
}

TEST_CASE("YaRN without mscale_all_dim scales cos/sin but not the softmax", "[rope]") {
  ModelConfig c = load("synthetic/deepseek-v3-yarn-mscale-only.json");
  // HF: attention_factor = get_mscale(factor) when mscale and mscale_all_dim are not both set.
  CHECK(rope_attention_factor(c) == Approx(0.1 * std::log(8.0) + 1.0).epsilon(1e-12));
  CHECK(attention_softmax_scale(c) == Approx(std::pow(48.0, -0.5)).epsilon(1e-12));
  std::vector<double> inv = rope_inv_freq(c);
  REQUIRE(inv.size() == 16);
  // beta_fast 16, beta_slow 2 over original 4096 positions with theta 50000.
  const double d = 32, L0 = 4096, theta = 50000;
  auto corr = [&](double r) { return d * std::log(L0 / (r * 2 * std::numbers::pi)) / (2 * std::log(theta)); };
  const double low = std::max(std::floor(corr(16)), 0.0), high = std::min(std::ceil(corr(2)), d - 1);
  for (int j = 0; j < 16; ++j) {
    const double base = std::pow(theta, -2.0 * j / d);
    const double ramp = std::clamp((j - low) / (high - low), 0.0, 1.0);
    CHECK(inv[size_t(j)] == Approx(base * (1 - ramp) + base / 8 * ramp).epsilon(2e-6));
  }
}
