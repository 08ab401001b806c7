// The tiny Hugging Face checkpoints of tests/fixtures/golden (saved by transformers 5.17) load
// through the importer: config with rope_parameters, safetensors, every tensor, and the MLA and
// expert recipes the compiler builds from them.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "dse/import/model_config.h"
#include "dse/import/rope_table.h"
#include "dse/import/safetensors.h"
#include "dse/import/tensor_reader.h"
#include "dse/import/weight_materializer.h"
#include "dse/import/weight_recipe.h"

using namespace dse;
using namespace dse::importer;

namespace {

const std::filesystem::path kGolden = DSE_IMPORT_GOLDEN_DIR;

struct Expect {
  const char* folder;
  ModelFamily family;
  RopeScalingType rope;
  bool q_lora;
};

}  // namespace

TEST_CASE("every golden Hugging Face checkpoint loads and every tensor converts", "[golden]") {
  const Expect expects[] = {
      {"llama", ModelFamily::llama, RopeScalingType::llama3, false},
      {"qwen2", ModelFamily::qwen2, RopeScalingType::none, false},
      {"deepseek_v2", ModelFamily::deepseek_v2, RopeScalingType::none, false},
      {"deepseek_v2_qlora_yarn", ModelFamily::deepseek_v2, RopeScalingType::yarn, true},
      {"deepseek_v3", ModelFamily::deepseek_v3, RopeScalingType::yarn, true},
      {"deepseek_v3_no_qlora", ModelFamily::deepseek_v3, RopeScalingType::none, false},
  };
  for (const Expect& e : expects) {
    INFO(e.folder);
    const auto dir = kGolden / e.folder;
    auto c = load_model_config(dir);
    INFO(c.status().message());
    REQUIRE(c.ok());
    const ModelConfig& config = c.value();
    CHECK(config.family == e.family);
    CHECK(config.rope_scaling.type == e.rope);
    CHECK((config.q_lora_rank > 0) == e.q_lora);
    auto a = SafetensorsArchive::open(dir);
    INFO(a.status().message());
    REQUIRE(a.ok());
    for (const TensorInfo& t : a->tensors()) {
      INFO(t.name);
      auto v = read_tensor_f32(a.value(), t);
      CHECK(v.ok());
    }
    CHECK(rope_inv_freq(config).size() == size_t(rope_dim(config) / 2));
    std::vector<float> table(size_t(config.max_position_embeddings * rope_dim(config)));
    CHECK(fill_rope_table(config, config.max_position_embeddings, table).ok());

    // The per-layer weights the compiler asks for exist with the shapes the config implies.
    const int64_t H = config.hidden_size;
    for (int64_t l = 0; l < config.num_layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      if (uses_mla(config)) {
        auto uk = recipe_shape(recipe_mla_w_uk(p + "self_attn.kv_b_proj.weight"), a.value(), config);
        REQUIRE(uk.ok());
        CHECK(uk.value() == std::vector<int64_t>{config.num_heads, config.qk_nope_head_dim, config.kv_lora_rank});
      } else {
        auto qkv = recipe_shape(recipe_concat_rows({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight",
                                                    p + "self_attn.v_proj.weight"}),
                                a.value(), config);
        REQUIRE(qkv.ok());
        CHECK(qkv.value() ==
              std::vector<int64_t>{(config.num_heads + 2 * config.num_kv_heads) * config.head_dim, H});
      }
      if (is_moe_layer(config, l)) {
        std::vector<std::string> gate, up;
        for (int64_t x = 0; x < config.n_routed_experts; ++x) {
          gate.push_back(p + "mlp.experts." + std::to_string(x) + ".gate_proj.weight");
          up.push_back(p + "mlp.experts." + std::to_string(x) + ".up_proj.weight");
        }
        auto gu = recipe_shape(recipe_stack_experts_concat(gate, up), a.value(), config);
        INFO(gu.status().message());
        REQUIRE(gu.ok());
        CHECK(gu.value() == std::vector<int64_t>{config.n_routed_experts, 2 * config.moe_intermediate_size, H});
        CHECK((a->find(p + "mlp.gate.e_score_correction_bias") != nullptr) == config.has_e_score_correction_bias);
      } else {
        CHECK(a->find(p + "mlp.gate_proj.weight"));
      }
    }
  }
}
