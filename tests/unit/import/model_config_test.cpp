// config.json parsing for every supported family: real DeepSeek configs from
// tests/fixtures/configs, synthetic Llama/Qwen2 ones with the values of ARCHITECTURES.md, and the
// errors that must name the offending key.
#include "dse/import/model_config.h"

#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "safetensors_test_writer.h"

using namespace dse;
using namespace dse::importer;
using Catch::Approx;
using Catch::Matchers::ContainsSubstring;

namespace {

const std::filesystem::path kConfigs = DSE_IMPORT_CONFIGS_DIR;

ModelConfig parse_ok(const std::string& json) {
  auto c = parse_model_config(json, "test config.json");
  INFO(c.status().message());
  REQUIRE(c.ok());
  return c.value();
}

Status parse_error(const std::string& json) {
  auto c = parse_model_config(json, "test config.json");
  REQUIRE_FALSE(c.ok());
  return c.status();
}

// The synthetic configs in tests/fixtures/configs/synthetic carry the values that
// ARCHITECTURES.md §6-7 summarises (no verbatim copy of these HF configs exists).
ModelConfig load_ok(const std::string& file) {
  auto c = load_model_config(kConfigs / file);
  INFO(c.status().message());
  REQUIRE(c.ok());
  return c.value();
}

const char* kCoderConfig = R"({"architectures": ["LlamaForCausalLM"], "rope_theta": 100000,
  "rope_scaling": {"type": "linear", "factor": 4.0}})";

// R1-Distill-Llama-8B (Llama-3.1 layout, ARCHITECTURES.md §6).
const char* kDistillLlamaConfig = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336,
  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
  "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
  "attention_bias": false, "mlp_bias": false, "tie_word_embeddings": false})";

}  // namespace

TEST_CASE("the DeepSeek-V3 config loads with its MLA, MoE, YaRN and FP8 settings", "[model_config]") {
  auto r = load_model_config(kConfigs / "DeepSeek-V3.json");
  INFO(r.status().message());
  REQUIRE(r.ok());
  const ModelConfig& c = r.value();
  CHECK(c.family == ModelFamily::deepseek_v3);
  CHECK(c.architecture == "DeepseekV3ForCausalLM");
  CHECK(c.vocab_size == 129280);
  CHECK(c.hidden_size == 7168);
  CHECK(c.intermediate_size == 18432);
  CHECK(c.num_layers == 61);
  CHECK(c.num_heads == 128);
  CHECK(c.q_lora_rank == 1536);
  CHECK(c.kv_lora_rank == 512);
  CHECK(c.qk_nope_head_dim == 128);
  CHECK(c.qk_rope_head_dim == 64);
  CHECK(c.v_head_dim == 128);
  CHECK(c.head_dim == 192);
  CHECK(c.n_routed_experts == 256);
  CHECK(c.n_shared_experts == 1);
  CHECK(c.num_experts_per_tok == 8);
  CHECK(c.moe_intermediate_size == 2048);
  CHECK(c.first_k_dense_replace == 3);
  CHECK(c.n_group == 8);
  CHECK(c.topk_group == 4);
  CHECK(c.topk_method == TopkMethod::noaux_tc);
  CHECK(c.scoring_func == ScoringFunc::sigmoid);
  CHECK(c.norm_topk_prob);
  CHECK(c.routed_scaling_factor == 2.5);
  CHECK(c.has_e_score_correction_bias);
  CHECK(c.num_nextn_predict_layers == 1);
  CHECK(c.rope_interleave);
  CHECK(c.rope_scaling.type == RopeScalingType::yarn);
  CHECK(c.rope_scaling.factor == 40.0);
  CHECK(c.rope_scaling.original_max_position_embeddings == 4096);
  CHECK(c.rope_scaling.beta_fast == 32.0);
  CHECK(c.rope_scaling.beta_slow == 1.0);
  CHECK(c.rope_scaling.mscale == 1.0);
  CHECK(c.rope_scaling.mscale_all_dim == 1.0);
  CHECK(c.max_position_embeddings == 163840);
  CHECK(c.rms_norm_eps == 1e-6);
  CHECK(c.bos_token_id == 0);
  CHECK(c.eos_token_ids == std::vector<int64_t>{1});
  CHECK(c.torch_dtype == "bfloat16");
  CHECK(c.quantization_config.present);
  CHECK(c.quantization_config.quant_method == "fp8");
  CHECK(c.quantization_config.fmt == "e4m3");
  CHECK(c.quantization_config.block_rows == 128);
  CHECK(c.quantization_config.block_cols == 128);
  CHECK_FALSE(c.tie_word_embeddings);
  CHECK_THAT(c.raw_json, ContainsSubstring("\"vocab_size\": 129280"));
}

TEST_CASE("the DeepSeek-R1 config loads to the same model as DeepSeek-V3", "[model_config]") {
  auto v3 = load_model_config(kConfigs / "DeepSeek-V3.json");
  auto r1 = load_model_config(kConfigs / "DeepSeek-R1.json");
  REQUIRE(v3.ok());
  REQUIRE(r1.ok());
  CHECK(r1->family == ModelFamily::deepseek_v3);
  CHECK(r1->hidden_size == v3->hidden_size);
  CHECK(r1->n_routed_experts == v3->n_routed_experts);
  CHECK(r1->rope_scaling.factor == v3->rope_scaling.factor);
  CHECK(r1->raw_json != v3->raw_json);  // transformers_version differs
}

TEST_CASE("the DeepSeek-V2-Lite config loads without query compression and with greedy softmax routing",
          "[model_config]") {
  auto r = load_model_config(kConfigs / "DeepSeek-V2-Lite.json");
  INFO(r.status().message());
  REQUIRE(r.ok());
  const ModelConfig& c = r.value();
  CHECK(c.family == ModelFamily::deepseek_v2);
  CHECK(c.q_lora_rank == 0);  // "q_lora_rank": null
  CHECK(c.kv_lora_rank == 512);
  CHECK(c.hidden_size == 2048);
  CHECK(c.num_heads == 16);
  CHECK(c.num_layers == 27);
  CHECK(c.intermediate_size == 10944);
  CHECK(c.n_routed_experts == 64);
  CHECK(c.n_shared_experts == 2);
  CHECK(c.num_experts_per_tok == 6);
  CHECK(c.moe_intermediate_size == 1408);
  CHECK(c.first_k_dense_replace == 1);
  CHECK(c.topk_method == TopkMethod::greedy);
  CHECK(c.scoring_func == ScoringFunc::softmax);
  CHECK_FALSE(c.norm_topk_prob);
  CHECK(c.routed_scaling_factor == 1.0);
  CHECK_FALSE(c.has_e_score_correction_bias);
  CHECK(c.rope_interleave);
  CHECK(c.rope_scaling.type == RopeScalingType::yarn);
  CHECK(c.rope_scaling.mscale == 0.707);
  CHECK(c.rope_scaling.mscale_all_dim == 0.707);
  CHECK(c.bos_token_id == 100000);
  CHECK(c.eos_token_ids == std::vector<int64_t>{100001});
  CHECK_FALSE(c.quantization_config.present);
}

TEST_CASE("a model folder is read through its config.json", "[model_config]") {
  testing::TempDir dir;
  testing::write_text(dir / "config.json", kCoderConfig);
  auto r = load_model_config(dir.path());
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(r->family == ModelFamily::llama);
}

TEST_CASE("a Llama-style deepseek-coder config has linear rope scaling", "[model_config]") {
  ModelConfig c = load_ok("synthetic/deepseek-coder-6.7b-instruct.json");
  CHECK(c.family == ModelFamily::llama);
  CHECK(c.head_dim == 128);
  CHECK(c.num_kv_heads == 32);
  CHECK(c.rope_theta == 100000.0);
  CHECK(c.rope_scaling.type == RopeScalingType::linear);
  CHECK(c.rope_scaling.factor == 4.0);
  CHECK_FALSE(c.attention_bias);
  CHECK_FALSE(c.rope_interleave);
  CHECK(c.n_routed_experts == 0);
  CHECK_FALSE(is_moe_layer(c, 5));
  CHECK(c.vocab_size == 32256);
  CHECK(c.bos_token_id == 32013);
  CHECK(c.eos_token_ids == std::vector<int64_t>{32021});
}

TEST_CASE("an R1-Distill-Llama config has llama3 rope scaling and a list of eos ids", "[model_config]") {
  CHECK(load_ok("synthetic/r1-distill-llama-8b.json").rope_scaling.type == RopeScalingType::llama3);
  ModelConfig c = parse_ok(kDistillLlamaConfig);
  CHECK(c.num_kv_heads == 8);
  CHECK(c.rms_norm_eps == 1e-5);
  CHECK(c.rope_scaling.type == RopeScalingType::llama3);
  CHECK(c.rope_scaling.factor == 8.0);
  CHECK(c.rope_scaling.low_freq_factor == 1.0);
  CHECK(c.rope_scaling.high_freq_factor == 4.0);
  CHECK(c.rope_scaling.original_max_position_embeddings == 8192);
  CHECK(c.eos_token_ids == std::vector<int64_t>{128001, 128008, 128009});
  CHECK(c.bos_token_id == 128000);
}

TEST_CASE("an R1-Distill-Qwen config has q/k/v biases and grouped kv heads", "[model_config]") {
  ModelConfig c = load_ok("synthetic/r1-distill-qwen-1.5b.json");
  CHECK(c.family == ModelFamily::qwen2);
  CHECK(c.attention_bias);
  CHECK(c.num_heads == 12);
  CHECK(c.num_kv_heads == 2);
  CHECK(c.head_dim == 128);
  CHECK(c.rope_scaling.type == RopeScalingType::none);
  CHECK(c.eos_token_ids == std::vector<int64_t>{151643});
}

TEST_CASE("absent keys take the defaults of the transformers config classes", "[model_config]") {
  SECTION("DeepseekV3Config") {
    ModelConfig c = parse_ok(R"({"architectures": ["DeepseekV3ForCausalLM"]})");
    CHECK(c.num_layers == 61);
    CHECK(c.hidden_size == 7168);
    CHECK(c.q_lora_rank == 1536);
    CHECK(c.max_position_embeddings == 4096);
    CHECK(c.first_k_dense_replace == 3);
    CHECK(c.rope_scaling.type == RopeScalingType::none);
    CHECK(c.rope_interleave);
  }
  SECTION("DeepseekV2Config: q_lora_rank absent is 1536, null is none") {
    ModelConfig absent = parse_ok(R"({"model_type": "deepseek_v2", "num_experts_per_tok": 6})");
    CHECK(absent.q_lora_rank == 1536);
    CHECK(absent.num_layers == 32);
    CHECK(absent.n_routed_experts == 64);
    CHECK(absent.bos_token_id == 1);
    ModelConfig null = parse_ok(R"({"model_type": "deepseek_v2", "num_experts_per_tok": 6, "q_lora_rank": null})");
    CHECK(null.q_lora_rank == 0);
  }
  SECTION("LlamaConfig: key/value heads default to the attention heads") {
    ModelConfig c = parse_ok(R"({"architectures": ["LlamaForCausalLM"], "num_attention_heads": 16, "hidden_size": 2048})");
    CHECK(c.num_kv_heads == 16);
    CHECK(c.head_dim == 128);
    CHECK(c.vocab_size == 32000);
    CHECK(c.max_position_embeddings == 2048);
  }
  SECTION("Qwen2Config") {
    ModelConfig c = parse_ok(R"({"architectures": ["Qwen2ForCausalLM"]})");
    CHECK(c.num_kv_heads == 32);
    CHECK(c.max_position_embeddings == 32768);
    CHECK(c.bos_token_id == -1);
    CHECK(c.eos_token_ids.empty());
  }
}

TEST_CASE("transformers 5 rope_parameters are read like rope_scaling", "[model_config]") {
  ModelConfig c = parse_ok(R"({"architectures": ["LlamaForCausalLM"],
    "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 50000.0}})");
  CHECK(c.rope_scaling.type == RopeScalingType::linear);
  CHECK(c.rope_scaling.factor == 2.0);
  CHECK(c.rope_theta == 50000.0);
}

TEST_CASE("MoE layers start at first_k_dense_replace", "[model_config]") {
  auto r = load_model_config(kConfigs / "DeepSeek-V3.json");
  REQUIRE(r.ok());
  CHECK_FALSE(is_moe_layer(r.value(), 0));
  CHECK_FALSE(is_moe_layer(r.value(), 2));
  CHECK(is_moe_layer(r.value(), 3));
  CHECK(is_moe_layer(r.value(), 60));
  auto lite = load_model_config(kConfigs / "DeepSeek-V2-Lite.json");
  REQUIRE(lite.ok());
  CHECK_FALSE(is_moe_layer(lite.value(), 0));
  CHECK(is_moe_layer(lite.value(), 1));
}

TEST_CASE("an unknown architecture is rejected naming the key and the value", "[model_config]") {
  Status s = parse_error(R"({"architectures": ["MistralForCausalLM"], "model_type": "mistral"})");
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_THAT(s.message(), ContainsSubstring("\"architectures\""));
  CHECK_THAT(s.message(), ContainsSubstring("MistralForCausalLM"));
  CHECK_THAT(s.message(), ContainsSubstring("DeepseekV3ForCausalLM"));  // says what would work
}

TEST_CASE("DeepSeek's own inference config format is rejected as not a Hugging Face config",
          "[model_config]") {
  auto r = load_model_config(kConfigs / "deepseek-v3-repo-config_236B.json");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::unsupported);
  CHECK_THAT(r.status().message(), ContainsSubstring("architectures"));
  CHECK_THAT(r.status().message(), ContainsSubstring("deepseek-v3-repo-config_236B.json"));
}

TEST_CASE("unsupported values are rejected naming their key", "[model_config]") {
  struct Case {
    const char* json;
    const char* key;
    const char* value;
    StatusCode code;
  };
  const Case cases[] = {
      {R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"type": "longrope", "factor": 2}})",
       "rope_scaling.type", "longrope", StatusCode::unsupported},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_act": "gelu"})", "hidden_act", "gelu",
       StatusCode::unsupported},
      {R"({"architectures": ["LlamaForCausalLM"], "attention_bias": true})", "attention_bias", "true",
       StatusCode::unsupported},
      {R"({"architectures": ["LlamaForCausalLM"], "partial_rotary_factor": 0.5})", "partial_rotary_factor",
       "0.5", StatusCode::unsupported},
      {R"({"architectures": ["Qwen2ForCausalLM"], "use_sliding_window": true})", "use_sliding_window",
       "true", StatusCode::unsupported},
      {R"({"architectures": ["DeepseekV3ForCausalLM"], "quantization_config": {"quant_method": "gptq"}})",
       "quantization_config.quant_method", "gptq", StatusCode::unsupported},
      {R"({"architectures": ["DeepseekV3ForCausalLM"], "topk_method": "greedy"})", "topk_method", "greedy",
       StatusCode::unsupported},
      {R"({"architectures": ["DeepseekV3ForCausalLM"], "scoring_func": "softmax"})", "scoring_func",
       "softmax", StatusCode::unsupported},
      {R"({"architectures": ["DeepseekV2ForCausalLM"], "num_experts_per_tok": 6, "topk_method": "top2"})",
       "topk_method", "top2", StatusCode::unsupported},
      {R"({"architectures": ["DeepseekV2ForCausalLM"], "num_experts_per_tok": 6, "scoring_func": "sigmoid"})",
       "scoring_func", "sigmoid", StatusCode::unsupported},
      {R"({"architectures": ["DeepseekV2ForCausalLM"], "num_experts_per_tok": 6, "moe_layer_freq": 2})",
       "moe_layer_freq", "2", StatusCode::unsupported},
      {R"({"architectures": ["LlamaForCausalLM"], "hidden_size": "big"})", "hidden_size", "\"big\"",
       StatusCode::invalid_argument},
      {R"({"architectures": ["LlamaForCausalLM"], "num_attention_heads": 32, "num_key_value_heads": 5})",
       "num_key_value_heads", "5", StatusCode::invalid_argument},
      {R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"type": "linear", "factor": 0.5}})",
       "rope_scaling.factor", "0.5", StatusCode::invalid_argument},
      {R"({"architectures": ["LlamaForCausalLM"], "rope_scaling": {"rope_type": "llama3", "factor": 8}})",
       "rope_scaling.low_freq_factor", "missing", StatusCode::invalid_argument},
      {R"({"architectures": ["DeepseekV2ForCausalLM"], "topk_method": "group_limited_greedy",
           "num_experts_per_tok": 6, "n_routed_experts": 64, "n_group": 8, "topk_group": 9})",
       "topk_group", "9", StatusCode::invalid_argument},
      {R"({"architectures": ["DeepseekV2ForCausalLM"]})", "num_experts_per_tok", "missing",
       StatusCode::invalid_argument},
  };
  for (const Case& k : cases) {
    INFO(k.json);
    Status s = parse_error(k.json);
    INFO(s.message());
    CHECK(s.code() == k.code);
    CHECK_THAT(s.message(), ContainsSubstring(std::string("\"") + k.key + "\""));
    CHECK_THAT(s.message(), ContainsSubstring(k.value));
    CHECK_THAT(s.message(), ContainsSubstring("test config.json"));
  }
}

TEST_CASE("a damaged config.json is reported with its path", "[model_config]") {
  testing::TempDir dir;
  testing::write_text(dir / "config.json", "{\"architectures\": [\"LlamaForCausalLM\"");
  auto r = load_model_config(dir.path());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::corrupt_data);
  CHECK_THAT(r.status().message(), ContainsSubstring("config.json"));

  auto missing = load_model_config(dir / "nowhere");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::not_found);
}

TEST_CASE("the synthetic dynamic-NTK and YaRN-without-mscale_all_dim configs load", "[model_config]") {
  ModelConfig dyn = load_ok("synthetic/llama-dynamic-ntk.json");
  CHECK(dyn.rope_scaling.type == RopeScalingType::dynamic);
  CHECK(dyn.rope_scaling.factor == 2.0);
  CHECK(dyn.num_kv_heads == 2);
  ModelConfig yarn = load_ok("synthetic/deepseek-v3-yarn-mscale-only.json");
  CHECK(yarn.rope_scaling.type == RopeScalingType::yarn);
  CHECK(yarn.rope_scaling.mscale == 1.0);
  CHECK(yarn.rope_scaling.mscale_all_dim == 0.0);
  CHECK(yarn.rope_scaling.beta_fast == 16.0);
  CHECK(yarn.head_dim == 48);
}
