// The hyper-parameters of a Hugging Face model folder (config.json), parsed and validated for
// the DeepSeek families the compiler supports: Llama-style, Qwen2-style, DeepSeek-V2 and V3.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dse/status.h"

namespace dse::importer {

enum class ModelFamily {
  llama,        // LlamaForCausalLM: deepseek-llm, deepseek-coder, R1-Distill-Llama
  qwen2,        // Qwen2ForCausalLM: R1-Distill-Qwen (q/k/v biases)
  deepseek_v2,  // DeepseekV2ForCausalLM: V2, V2-Lite (MLA + MoE)
  deepseek_v3,  // DeepseekV3ForCausalLM: V3, R1 (MLA + MoE, noaux_tc routing, FP8 weights)
};
const char* model_family_name(ModelFamily family);

enum class RopeScalingType { none, linear, dynamic, llama3, yarn };
const char* rope_scaling_type_name(RopeScalingType type);

// `rope_scaling` of config.json. Fields that a type does not use keep their defaults; defaults
// are the ones Hugging Face assumes when the key is absent.
struct RopeScalingConfig {
  RopeScalingType type = RopeScalingType::none;
  std::string type_name = "default";  // as written ("rope_type" or "type"), for messages
  double factor = 1.0;
  // llama3 and yarn: the context the model was pre-trained with (0 = absent in the config).
  int64_t original_max_position_embeddings = 0;
  // llama3.
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  // yarn.
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double attention_factor = 0.0;  // 0 = absent (then derived, see rope_attention_factor)
  // yarn amplitude; mscale_all_dim also sets the MLA softmax scale for any non-default type.
  double mscale = 0.0;          // 0 = absent
  double mscale_all_dim = 0.0;  // 0 = absent
  bool truncate = true;         // yarn: floor/ceil the correction range (HF default true)
};

enum class TopkMethod { greedy, group_limited_greedy, noaux_tc };
enum class ScoringFunc { softmax, sigmoid };
const char* topk_method_name(TopkMethod method);
const char* scoring_func_name(ScoringFunc func);

// `quantization_config` of a pre-quantized checkpoint. Only FP8 e4m3 with block scales
// (DeepSeek-V3/R1) is accepted; anything else is rejected at load time.
struct QuantizationConfig {
  bool present = false;
  std::string quant_method;       // "fp8"
  std::string fmt;                // "e4m3"
  std::string activation_scheme;  // "dynamic"
  std::string scale_fmt;          // "" or "ue8m0" (V3.1)
  int64_t block_rows = 128;       // weight_block_size[0]: output rows per scale
  int64_t block_cols = 128;       // weight_block_size[1]: input columns per scale
};

struct ModelConfig {
  ModelFamily family = ModelFamily::llama;
  std::string architecture;  // architectures[0], e.g. "DeepseekV3ForCausalLM"
  std::string model_type;    // e.g. "deepseek_v3"

  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;  // dense MLP width
  int64_t num_layers = 0;         // num_hidden_layers (V3's MTP layer is not counted)
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;       // GQA; MLA ignores it
  // Width of one query/key head: Llama/Qwen2 `head_dim` or hidden/heads; MLA dn + dr.
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScalingConfig rope_scaling;  // from "rope_scaling" or transformers 5's "rope_parameters"
  // MLA rope pairing: true = adjacent pairs (V2 always; V3 `rope_interleave`, default true),
  // false = rotate-half. Llama/Qwen2 are always rotate-half.
  bool rope_interleave = false;
  bool attention_bias = false;  // q/k/v projections have biases (always true for qwen2)
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;             // -1 = absent
  std::vector<int64_t> eos_token_ids;    // config's eos_token_id (int or list)
  int64_t pad_token_id = -1;             // -1 = absent

  // MLA (deepseek_v2, deepseek_v3). q_lora_rank 0 = no query compression (V2-Lite).
  int64_t q_lora_rank = 0;
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;

  // MoE (deepseek_v2, deepseek_v3). n_routed_experts 0 = dense model.
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  TopkMethod topk_method = TopkMethod::greedy;
  ScoringFunc scoring_func = ScoringFunc::softmax;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  bool has_e_score_correction_bias = false;  // mlp.gate.e_score_correction_bias exists (noaux_tc)
  int64_t num_nextn_predict_layers = 0;      // V3 MTP layers (stored after num_layers; skipped)

  std::string torch_dtype;  // "bfloat16", "float16", "float32" ("" when absent)
  QuantizationConfig quantization_config;
  std::string raw_json;     // config.json as read, for the artifact's provenance
};

// Whether layer `layer` (0-based) uses the MoE FFN: n_routed_experts > 0,
// layer >= first_k_dense_replace and layer % moe_layer_freq == 0.
bool is_moe_layer(const ModelConfig& config, int64_t layer);

// True for deepseek_v2 and deepseek_v3 (MLA attention).
bool uses_mla(const ModelConfig& config);

// Reads and validates config.json. `path` is a model folder or the config file itself. An
// unknown architecture or an unsupported value fails with unsupported / invalid_argument and a
// message naming the JSON key and the value found.
Result<ModelConfig> load_model_config(const std::filesystem::path& model_dir_or_config_json);

// The same from JSON text; `source` names it in messages.
Result<ModelConfig> parse_model_config(std::string_view json_text, std::string_view source);

}  // namespace dse::importer
