// Parses config.json into a ModelConfig, with Hugging Face's defaults for absent keys and a
// message naming the key for every unknown or unsupported value.
#include "dse/import/model_config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dse::importer {
namespace {

using nlohmann::json;

const char* json_type(const json& v) { return v.type_name(); }

std::string show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

// Reads keys of one JSON object and remembers the first error with the key's full name.
class Reader {
 public:
  Reader(const json& obj, std::string source, std::string prefix = "")
      : obj_(obj), source_(std::move(source)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return obj_.contains(key) && !obj_.at(key).is_null(); }
  bool present(const char* key) const { return obj_.contains(key); }
  const json* get(const char* key) const { return has(key) ? &obj_.at(key) : nullptr; }

  Status fail(StatusCode code, const std::string& key, const std::string& what) {
    if (status_.ok())
      status_ = Status(code, source_ + ": key \"" + prefix_ + key + "\": " + what);
    return status_;
  }
  Status bad_type(const char* key, const json& v, const char* expected) {
    return fail(StatusCode::invalid_argument, key,
                std::string("expected ") + expected + ", found " + json_type(v) + " " + show(v) +
                    "; fix config.json");
  }

  // Integer key; absent or null keeps `out`. Accepts integral floats (40.0).
  void integer(const char* key, int64_t& out, int64_t min_value = 0) {
    const json* v = get(key);
    if (!v) return;
    int64_t x = 0;
    if (v->is_number_integer()) {
      x = v->get<int64_t>();
    } else if (v->is_number_float() && std::floor(v->get<double>()) == v->get<double>() &&
               std::fabs(v->get<double>()) < 9e15) {
      x = int64_t(v->get<double>());
    } else {
      (void)bad_type(key, *v, "an integer");
      return;
    }
    if (x < min_value) {
      (void)fail(StatusCode::invalid_argument, key,
           "expected an integer >= " + std::to_string(min_value) + ", found " + show(*v));
      return;
    }
    out = x;
  }
  void number(const char* key, double& out) {
    const json* v = get(key);
    if (!v) return;
    if (!v->is_number()) {
      (void)bad_type(key, *v, "a number");
      return;
    }
    double x = v->get<double>();
    if (!std::isfinite(x)) {
      (void)fail(StatusCode::invalid_argument, key, "expected a finite number, found " + show(*v));
      return;
    }
    out = x;
  }
  void boolean(const char* key, bool& out) {
    const json* v = get(key);
    if (!v) return;
    if (!v->is_boolean()) {
      (void)bad_type(key, *v, "true or false");
      return;
    }
    out = v->get<bool>();
  }
  void string(const char* key, std::string& out) {
    const json* v = get(key);
    if (!v) return;
    if (!v->is_string()) {
      (void)bad_type(key, *v, "a string");
      return;
    }
    out = v->get<std::string>();
  }
  // Token id: integer, or a list of integers (eos_token_id of Llama-3.x configs).
  void token_ids(const char* key, std::vector<int64_t>& out) {
    const json* v = get(key);
    if (!v) return;
    std::vector<int64_t> ids;
    if (v->is_number_integer()) {
      ids.push_back(v->get<int64_t>());
    } else if (v->is_array()) {
      for (const json& e : *v) {
        if (!e.is_number_integer()) {
          (void)bad_type(key, *v, "an integer or a list of integers");
          return;
        }
        ids.push_back(e.get<int64_t>());
      }
    } else {
      (void)bad_type(key, *v, "an integer or a list of integers");
      return;
    }
    out = std::move(ids);
  }
  void token_id(const char* key, int64_t& out) {
    std::vector<int64_t> ids;
    token_ids(key, ids);
    if (ids.size() == 1) out = ids[0];
    else if (ids.size() > 1) out = ids[0];
  }

  Status& status() { return status_; }
  const std::string& source() const { return source_; }

 private:
  const json& obj_;
  std::string source_;
  std::string prefix_;
  Status status_;
};

struct FamilyInfo {
  ModelFamily family;
  const char* architecture;
  const char* model_type;
};
constexpr FamilyInfo kFamilies[] = {
    {ModelFamily::llama, "LlamaForCausalLM", "llama"},
    {ModelFamily::qwen2, "Qwen2ForCausalLM", "qwen2"},
    {ModelFamily::deepseek_v2, "DeepseekV2ForCausalLM", "deepseek_v2"},
    {ModelFamily::deepseek_v3, "DeepseekV3ForCausalLM", "deepseek_v3"},
};

std::string known_architectures() {
  std::string s;
  for (const FamilyInfo& f : kFamilies) {
    if (!s.empty()) s += ", ";
    s += f.architecture;
  }
  return s;
}

// The defaults of transformers' configuration classes (LlamaConfig, Qwen2Config,
// DeepseekV2Config, DeepseekV3Config, /work/hf-src): what a model built from this config.json
// would use for an absent key.
void apply_family_defaults(ModelConfig& c) {
  switch (c.family) {
    case ModelFamily::llama:
      c.vocab_size = 32000; c.hidden_size = 4096; c.intermediate_size = 11008;
      c.num_layers = 32; c.num_heads = 32; c.num_kv_heads = 0;  // 0: same as num_heads
      c.max_position_embeddings = 2048; c.rms_norm_eps = 1e-6; c.rope_theta = 10000.0;
      c.bos_token_id = 1; c.eos_token_ids = {2};
      break;
    case ModelFamily::qwen2:
      c.vocab_size = 151936; c.hidden_size = 4096; c.intermediate_size = 22016;
      c.num_layers = 32; c.num_heads = 32; c.num_kv_heads = 32;
      c.max_position_embeddings = 32768; c.rms_norm_eps = 1e-6; c.rope_theta = 10000.0;
      c.attention_bias = true;  // Qwen2Attention: q/k/v always with bias
      break;
    case ModelFamily::deepseek_v2:
      c.vocab_size = 102400; c.hidden_size = 4096; c.intermediate_size = 11008;
      c.moe_intermediate_size = 1407; c.num_layers = 32; c.num_heads = 32; c.num_kv_heads = 0;
      c.n_routed_experts = 64; c.n_shared_experts = 2; c.num_experts_per_tok = 0;  // None
      c.routed_scaling_factor = 1.0; c.topk_method = TopkMethod::greedy;
      c.scoring_func = ScoringFunc::softmax; c.n_group = 0; c.topk_group = 0;  // None
      c.moe_layer_freq = 1; c.first_k_dense_replace = 0; c.norm_topk_prob = false;
      c.max_position_embeddings = 2048; c.rms_norm_eps = 1e-6; c.rope_theta = 10000.0;
      c.bos_token_id = 1; c.eos_token_ids = {2};
      c.q_lora_rank = 1536; c.kv_lora_rank = 512; c.qk_nope_head_dim = 128;
      c.qk_rope_head_dim = 64; c.v_head_dim = 128;
      c.rope_interleave = true;  // HF V2 rotates with a complex multiply: adjacent pairs
      break;
    case ModelFamily::deepseek_v3:
      c.vocab_size = 129280; c.hidden_size = 7168; c.intermediate_size = 18432;
      c.moe_intermediate_size = 2048; c.num_layers = 61; c.num_heads = 128; c.num_kv_heads = 128;
      c.n_routed_experts = 256; c.n_shared_experts = 1; c.num_experts_per_tok = 8;
      c.routed_scaling_factor = 2.5; c.topk_method = TopkMethod::noaux_tc;
      c.scoring_func = ScoringFunc::sigmoid; c.n_group = 8; c.topk_group = 4;
      c.moe_layer_freq = 1; c.first_k_dense_replace = 3; c.norm_topk_prob = true;
      c.max_position_embeddings = 4096; c.rms_norm_eps = 1e-6; c.rope_theta = 10000.0;
      c.bos_token_id = 0; c.eos_token_ids = {1};
      c.q_lora_rank = 1536; c.kv_lora_rank = 512; c.qk_nope_head_dim = 128;
      c.qk_rope_head_dim = 64; c.v_head_dim = 128;
      c.rope_interleave = true;
      c.num_nextn_predict_layers = 1;
      break;
  }
}

// transformers 5 keeps rope settings in "rope_parameters" (with rope_theta inside); older
// configs in "rope_scaling" next to a top-level "rope_theta". A non-empty rope_scaling wins, as
// in RotaryEmbeddingConfigMixin.convert_rope_params_to_dict.
Status parse_rope_scaling(const json& root, ModelConfig& c, const std::string& source) {
  Reader top(root, source);
  const char* dict_key = nullptr;
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    if (!root.contains(key) || root.at(key).is_null()) continue;
    if (!root.at(key).is_object()) return top.bad_type(key, root.at(key), "an object or null");
    if (root.at(key).empty()) continue;
    dict_key = key;
    break;
  }
  if (!dict_key) return Status::Ok();
  const json& rs = root.at(dict_key);
  Reader r(rs, source, std::string(dict_key) + ".");
  r.number("rope_theta", c.rope_theta);
  DSE_RETURN_IF_ERROR(r.status());
  if (r.has("rope_theta") && c.rope_theta <= 1.0)
    return r.fail(StatusCode::invalid_argument, "rope_theta",
                  "expected a number > 1, found " + show(rs.at("rope_theta")));
  if (r.has("partial_rotary_factor"))
    return r.fail(StatusCode::unsupported, "partial_rotary_factor",
                  "partial rotary embeddings are not supported by the supported families");

  RopeScalingConfig& s = c.rope_scaling;
  const char* type_key = r.has("rope_type") ? "rope_type" : "type";
  r.string(type_key, s.type_name);
  DSE_RETURN_IF_ERROR(r.status());
  if (s.type_name == "default") s.type = RopeScalingType::none;
  else if (s.type_name == "linear") s.type = RopeScalingType::linear;
  else if (s.type_name == "dynamic") s.type = RopeScalingType::dynamic;
  else if (s.type_name == "llama3") s.type = RopeScalingType::llama3;
  else if (s.type_name == "yarn") s.type = RopeScalingType::yarn;
  else
    return r.fail(StatusCode::unsupported, type_key,
                  "found \"" + s.type_name +
                      "\"; supported: default, linear, dynamic, llama3, yarn");
  if (s.type == RopeScalingType::none) return Status::Ok();

  if (!r.has("factor"))
    return r.fail(StatusCode::invalid_argument, "factor",
                  "missing: rope scaling of type " + s.type_name + " needs a factor");
  r.number("factor", s.factor);
  DSE_RETURN_IF_ERROR(r.status());
  if (s.factor < 1.0)
    return r.fail(StatusCode::invalid_argument, "factor",
                  "expected a number >= 1, found " + show(rs.at("factor")));
  r.number("mscale", s.mscale);
  r.number("mscale_all_dim", s.mscale_all_dim);
  r.integer("original_max_position_embeddings", s.original_max_position_embeddings, 1);
  DSE_RETURN_IF_ERROR(r.status());
  // HF's standardize_rope_params: llama3 and yarn default to max_position_embeddings.
  if ((s.type == RopeScalingType::llama3 || s.type == RopeScalingType::yarn) &&
      s.original_max_position_embeddings == 0)
    s.original_max_position_embeddings = c.max_position_embeddings;

  if (s.type == RopeScalingType::llama3) {
    for (const char* key : {"low_freq_factor", "high_freq_factor"})
      if (!r.has(key))
        return r.fail(StatusCode::invalid_argument, key, "missing: llama3 rope scaling needs it");
    r.number("low_freq_factor", s.low_freq_factor);
    r.number("high_freq_factor", s.high_freq_factor);
    DSE_RETURN_IF_ERROR(r.status());
    if (s.low_freq_factor <= 0)
      return r.fail(StatusCode::invalid_argument, "low_freq_factor",
                    "expected a positive number, found " + show(rs.at("low_freq_factor")));
    if (!(s.high_freq_factor > s.low_freq_factor))
      return r.fail(StatusCode::invalid_argument, "high_freq_factor",
                    "expected a number > low_freq_factor (" + show(rs.at("low_freq_factor")) +
                        "), found " + show(rs.at("high_freq_factor")));
  }
  if (s.type == RopeScalingType::yarn) {
    r.number("beta_fast", s.beta_fast);
    r.number("beta_slow", s.beta_slow);
    r.number("attention_factor", s.attention_factor);
    r.boolean("truncate", s.truncate);
    DSE_RETURN_IF_ERROR(r.status());
    // HF: `get("beta_fast") or 32`, so 0 means the default too.
    if (s.beta_fast == 0) s.beta_fast = 32.0;
    if (s.beta_slow == 0) s.beta_slow = 1.0;
    if (s.attention_factor < 0)
      return r.fail(StatusCode::invalid_argument, "attention_factor",
                    "expected a number >= 0, found " + show(rs.at("attention_factor")));
    if (s.beta_fast < 0 || s.beta_slow < 0)
      return r.fail(StatusCode::invalid_argument, s.beta_fast < 0 ? "beta_fast" : "beta_slow",
                    "expected a positive number");
  }
  return r.status();
}

Status parse_quantization(const json& root, ModelConfig& c, const std::string& source) {
  if (!root.contains("quantization_config") || root.at("quantization_config").is_null())
    return Status::Ok();
  const json& q = root.at("quantization_config");
  Reader top(root, source);
  if (!q.is_object()) return top.bad_type("quantization_config", q, "an object or null");
  Reader r(q, source, "quantization_config.");
  QuantizationConfig& qc = c.quantization_config;
  qc.present = true;
  r.string("quant_method", qc.quant_method);
  r.string("fmt", qc.fmt);
  r.string("activation_scheme", qc.activation_scheme);
  r.string("scale_fmt", qc.scale_fmt);
  DSE_RETURN_IF_ERROR(r.status());
  if (qc.quant_method != "fp8")
    return r.fail(StatusCode::unsupported, "quant_method",
                  "found \"" + qc.quant_method +
                      "\"; only \"fp8\" block-quantized checkpoints (DeepSeek-V3/R1) are "
                      "supported: use the unquantized (bf16/fp16) checkpoint");
  if (!qc.fmt.empty() && qc.fmt != "e4m3")
    return r.fail(StatusCode::unsupported, "fmt",
                  "found \"" + qc.fmt + "\"; only \"e4m3\" is supported");
  if (r.has("weight_block_size")) {
    const json& b = q.at("weight_block_size");
    if (!b.is_array() || b.size() != 2 || !b[0].is_number_integer() ||
        !b[1].is_number_integer() || b[0].get<int64_t>() <= 0 || b[1].get<int64_t>() <= 0)
      return r.bad_type("weight_block_size", b, "a list of two positive integers");
    qc.block_rows = b[0].get<int64_t>();
    qc.block_cols = b[1].get<int64_t>();
  } else {
    return r.fail(StatusCode::unsupported, "weight_block_size",
                  "missing: only block-wise fp8 (weight_scale_inv per block) is supported");
  }
  return Status::Ok();
}

}  // namespace

const char* model_family_name(ModelFamily family) {
  switch (family) {
    case ModelFamily::llama: return "llama";
    case ModelFamily::qwen2: return "qwen2";
    case ModelFamily::deepseek_v2: return "deepseek_v2";
    case ModelFamily::deepseek_v3: return "deepseek_v3";
  }
  return "unknown";
}

const char* rope_scaling_type_name(RopeScalingType type) {
  switch (type) {
    case RopeScalingType::none: return "none";
    case RopeScalingType::linear: return "linear";
    case RopeScalingType::dynamic: return "dynamic";
    case RopeScalingType::llama3: return "llama3";
    case RopeScalingType::yarn: return "yarn";
  }
  return "unknown";
}

const char* topk_method_name(TopkMethod method) {
  switch (method) {
    case TopkMethod::greedy: return "greedy";
    case TopkMethod::group_limited_greedy: return "group_limited_greedy";
    case TopkMethod::noaux_tc: return "noaux_tc";
  }
  return "unknown";
}

const char* scoring_func_name(ScoringFunc func) {
  return func == ScoringFunc::softmax ? "softmax" : "sigmoid";
}

bool uses_mla(const ModelConfig& c) {
  return c.family == ModelFamily::deepseek_v2 || c.family == ModelFamily::deepseek_v3;
}

bool is_moe_layer(const ModelConfig& c, int64_t layer) {
  return c.n_routed_experts > 0 && layer >= c.first_k_dense_replace &&
         c.moe_layer_freq > 0 && layer % c.moe_layer_freq == 0;
}

namespace {
Result<ModelConfig> parse_model_config_json(std::string_view text, std::string_view source_view);
}  // namespace

// nlohmann-json reports misuse through exceptions; every access below is checked first, and this
// wrapper makes sure that nothing escapes the API even so.
Result<ModelConfig> parse_model_config(std::string_view text, std::string_view source) {
  try {
    return parse_model_config_json(text, source);
  } catch (const std::exception& e) {
    return Status(StatusCode::internal, std::string(source) + ": unexpected error while reading the config (" +
                                            e.what() + "); please report it with the file");
  }
}

namespace {
Result<ModelConfig> parse_model_config_json(std::string_view text, std::string_view source_view) {
  std::string source(source_view);
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    return Status(StatusCode::corrupt_data,
                  source + ": not valid JSON (" + e.what() + "); expected a Hugging Face config.json");
  }
  if (!root.is_object())
    return Status(StatusCode::corrupt_data,
                  source + ": expected a JSON object, found " + json_type(root));

  ModelConfig c;
  c.raw_json = std::string(text);
  Reader r(root, source);

  // The family: architectures[0], or model_type when architectures is absent.
  r.string("model_type", c.model_type);
  DSE_RETURN_IF_ERROR(r.status());
  const FamilyInfo* family = nullptr;
  if (r.has("architectures")) {
    const json& a = root.at("architectures");
    if (!a.is_array() || a.empty() || !a[0].is_string())
      return r.bad_type("architectures", a, "a non-empty list of strings");
    c.architecture = a[0].get<std::string>();
    for (const FamilyInfo& f : kFamilies)
      if (c.architecture == f.architecture) family = &f;
    if (!family)
      return r.fail(StatusCode::unsupported, "architectures",
                    "found \"" + c.architecture + "\"; supported: " + known_architectures());
  } else {
    for (const FamilyInfo& f : kFamilies)
      if (c.model_type == f.model_type) family = &f;
    if (!family)
      return r.fail(StatusCode::unsupported, r.has("model_type") ? "model_type" : "architectures",
                    r.has("model_type")
                        ? "found \"" + c.model_type +
                              "\" and no \"architectures\"; supported: llama, qwen2, "
                              "deepseek_v2, deepseek_v3"
                        : "missing (and no \"model_type\"); expected one of " +
                              known_architectures());
    c.architecture = family->architecture;
  }
  c.family = family->family;
  if (c.model_type.empty()) c.model_type = family->model_type;
  apply_family_defaults(c);
  const bool mla = uses_mla(c);

  r.integer("vocab_size", c.vocab_size, 1);
  r.integer("hidden_size", c.hidden_size, 1);
  r.integer("intermediate_size", c.intermediate_size, 1);
  r.integer("num_hidden_layers", c.num_layers, 1);
  r.integer("num_attention_heads", c.num_heads, 1);
  r.integer("num_key_value_heads", c.num_kv_heads, 1);
  if (c.num_kv_heads == 0) c.num_kv_heads = c.num_heads;  // None -> num_attention_heads
  r.integer("max_position_embeddings", c.max_position_embeddings, 1);
  r.number("rms_norm_eps", c.rms_norm_eps);
  r.number("rope_theta", c.rope_theta);
  r.boolean("tie_word_embeddings", c.tie_word_embeddings);
  r.token_id("bos_token_id", c.bos_token_id);
  if (r.present("bos_token_id") && !r.has("bos_token_id")) c.bos_token_id = -1;
  r.token_ids("eos_token_id", c.eos_token_ids);
  if (r.present("eos_token_id") && !r.has("eos_token_id")) c.eos_token_ids.clear();
  r.token_id("pad_token_id", c.pad_token_id);
  // transformers >= 4.56 writes "dtype"; older ones "torch_dtype".
  r.string(r.has("torch_dtype") ? "torch_dtype" : "dtype", c.torch_dtype);
  r.integer("num_nextn_predict_layers", c.num_nextn_predict_layers, 0);
  DSE_RETURN_IF_ERROR(r.status());

  if (c.rms_norm_eps <= 0)
    return r.fail(StatusCode::invalid_argument, "rms_norm_eps",
                  "expected a positive number, found " + show(root.at("rms_norm_eps")));
  if (c.rope_theta <= 1.0)
    return r.fail(StatusCode::invalid_argument, "rope_theta",
                  "expected a number > 1, found " + show(root.at("rope_theta")));
  if (r.has("partial_rotary_factor")) {
    double prf = 1.0;
    r.number("partial_rotary_factor", prf);
    DSE_RETURN_IF_ERROR(r.status());
    if (prf != 1.0)
      return r.fail(StatusCode::unsupported, "partial_rotary_factor",
                    "found " + show(root.at("partial_rotary_factor")) +
                        "; only full rotary embeddings (1.0) are supported");
  }

  // Activation: every supported family is SwiGLU with silu.
  std::string act = "silu";
  r.string("hidden_act", act);
  DSE_RETURN_IF_ERROR(r.status());
  if (act != "silu")
    return r.fail(StatusCode::unsupported, "hidden_act",
                  "found \"" + act + "\"; only \"silu\" (SwiGLU) is supported");

  // Attention biases: Qwen2 always has q/k/v biases; the others must not have any.
  if (c.family != ModelFamily::qwen2) {
    bool bias = false;
    r.boolean("attention_bias", bias);
    DSE_RETURN_IF_ERROR(r.status());
    if (bias)
      return r.fail(StatusCode::unsupported, "attention_bias",
                    std::string("found true; ") + model_family_name(c.family) +
                        " models with attention biases are not supported (no DeepSeek release "
                        "has them)");
    bool mlp_bias = false;
    r.boolean("mlp_bias", mlp_bias);
    DSE_RETURN_IF_ERROR(r.status());
    if (mlp_bias)
      return r.fail(StatusCode::unsupported, "mlp_bias", "found true; MLP biases are not supported");
  }
  if (c.family == ModelFamily::qwen2) {
    bool sliding = false;
    r.boolean("use_sliding_window", sliding);
    DSE_RETURN_IF_ERROR(r.status());
    if (sliding)
      return r.fail(StatusCode::unsupported, "use_sliding_window",
                    "found true; sliding-window attention is not supported (R1-Distill-Qwen "
                    "sets it to false)");
  }

  // Head width.
  if (mla) {
    r.integer("kv_lora_rank", c.kv_lora_rank, 1);
    r.integer("qk_nope_head_dim", c.qk_nope_head_dim, 1);
    r.integer("qk_rope_head_dim", c.qk_rope_head_dim, 2);
    r.integer("v_head_dim", c.v_head_dim, 1);
    // q_lora_rank: null means no query compression (V2-Lite); absent means the class default.
    if (r.present("q_lora_rank") && !r.has("q_lora_rank")) c.q_lora_rank = 0;
    else r.integer("q_lora_rank", c.q_lora_rank, 0);
    DSE_RETURN_IF_ERROR(r.status());
    if (c.qk_rope_head_dim % 2 != 0)
      return r.fail(StatusCode::invalid_argument, "qk_rope_head_dim",
                    "expected an even number, found " + std::to_string(c.qk_rope_head_dim));
    c.head_dim = c.qk_nope_head_dim + c.qk_rope_head_dim;
  } else {
    if (c.hidden_size % c.num_heads != 0 && !r.has("head_dim"))
      return r.fail(StatusCode::invalid_argument, "num_attention_heads",
                    "hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of " +
                        std::to_string(c.num_heads) + " heads and there is no head_dim");
    c.head_dim = c.hidden_size / c.num_heads;
    r.integer("head_dim", c.head_dim, 2);
    DSE_RETURN_IF_ERROR(r.status());
    if (c.num_heads % c.num_kv_heads != 0)
      return r.fail(StatusCode::invalid_argument, "num_key_value_heads",
                    "expected a divisor of num_attention_heads (" + std::to_string(c.num_heads) +
                        "), found " + std::to_string(c.num_kv_heads));
    if (c.head_dim % 2 != 0)
      return r.fail(StatusCode::invalid_argument, r.has("head_dim") ? "head_dim" : "hidden_size",
                    "the head width must be even for rotary embeddings, found " +
                        std::to_string(c.head_dim));
  }

  // MoE. HF builds layer l as MoE iff l >= first_k_dense_replace; the router of DeepseekV2 is
  // softmax + greedy or group_limited_greedy without renormalisation, that of DeepseekV3 is
  // sigmoid + noaux_tc (e_score_correction_bias, top-2 group sums). Values that the HF classes
  // would silently ignore are rejected so the artifact never disagrees with HF.
  if (mla) {
    if (r.present("n_routed_experts") && !r.has("n_routed_experts")) c.n_routed_experts = 0;
    r.integer("n_routed_experts", c.n_routed_experts, 0);
    r.integer("n_shared_experts", c.n_shared_experts, 0);
    r.integer("num_experts_per_tok", c.num_experts_per_tok, 1);
    r.integer("moe_intermediate_size", c.moe_intermediate_size, 1);
    r.integer("first_k_dense_replace", c.first_k_dense_replace, 0);
    r.integer("moe_layer_freq", c.moe_layer_freq, 1);
    r.integer("n_group", c.n_group, 1);
    r.integer("topk_group", c.topk_group, 1);
    r.boolean("norm_topk_prob", c.norm_topk_prob);
    r.number("routed_scaling_factor", c.routed_scaling_factor);
    DSE_RETURN_IF_ERROR(r.status());
    std::string method = topk_method_name(c.topk_method);
    r.string("topk_method", method);
    std::string scoring = scoring_func_name(c.scoring_func);
    r.string("scoring_func", scoring);
    DSE_RETURN_IF_ERROR(r.status());
    if (method == "greedy") c.topk_method = TopkMethod::greedy;
    else if (method == "group_limited_greedy") c.topk_method = TopkMethod::group_limited_greedy;
    else if (method == "noaux_tc") c.topk_method = TopkMethod::noaux_tc;
    else
      return r.fail(StatusCode::unsupported, "topk_method",
                    "found \"" + method +
                        "\"; supported: greedy, group_limited_greedy (DeepSeek-V2), noaux_tc "
                        "(DeepSeek-V3)");
    if (scoring == "softmax") c.scoring_func = ScoringFunc::softmax;
    else if (scoring == "sigmoid") c.scoring_func = ScoringFunc::sigmoid;
    else
      return r.fail(StatusCode::unsupported, "scoring_func",
                    "found \"" + scoring + "\"; supported: softmax (V2), sigmoid (V3)");

    if (c.family == ModelFamily::deepseek_v2) {
      if (c.topk_method == TopkMethod::noaux_tc)
        return r.fail(StatusCode::unsupported, "topk_method",
                      "found \"noaux_tc\" in a DeepseekV2 config; HF's DeepseekV2 router "
                      "implements greedy and group_limited_greedy only (noaux_tc is V3's)");
      if (c.scoring_func != ScoringFunc::softmax)
        return r.fail(StatusCode::unsupported, "scoring_func",
                      "found \"" + scoring + "\" in a DeepseekV2 config; HF's DeepseekV2 router "
                      "always uses softmax");
      if (c.norm_topk_prob)
        return r.fail(StatusCode::unsupported, "norm_topk_prob",
                      "found true in a DeepseekV2 config; HF's DeepseekV2 never renormalises the "
                      "top-k weights while DeepSeek's remote code does, so the intended model is "
                      "ambiguous");
    } else {
      if (c.topk_method != TopkMethod::noaux_tc)
        return r.fail(StatusCode::unsupported, "topk_method",
                      "found \"" + method + "\" in a DeepseekV3 config; HF's DeepseekV3 router "
                      "always uses noaux_tc");
      if (c.scoring_func != ScoringFunc::sigmoid)
        return r.fail(StatusCode::unsupported, "scoring_func",
                      "found \"" + scoring + "\" in a DeepseekV3 config; HF's DeepseekV3 router "
                      "always uses sigmoid");
      r.boolean("rope_interleave", c.rope_interleave);
      DSE_RETURN_IF_ERROR(r.status());
    }
    if (c.moe_layer_freq != 1)
      return r.fail(StatusCode::unsupported, "moe_layer_freq",
                    "found " + std::to_string(c.moe_layer_freq) +
                        "; HF makes every layer from first_k_dense_replace on an MoE layer, so "
                        "only 1 is supported");
    c.has_e_score_correction_bias = c.topk_method == TopkMethod::noaux_tc;

    if (c.n_routed_experts > 0 && c.first_k_dense_replace < c.num_layers) {
      if (c.num_experts_per_tok < 1)
        return r.fail(StatusCode::invalid_argument, "num_experts_per_tok",
                      "missing: an MoE model needs the number of experts per token");
      if (c.num_experts_per_tok > c.n_routed_experts)
        return r.fail(StatusCode::invalid_argument, "num_experts_per_tok",
                      "expected 1.." + std::to_string(c.n_routed_experts) + ", found " +
                          std::to_string(c.num_experts_per_tok));
      if (c.topk_method != TopkMethod::greedy) {
        if (c.n_group < 1 || c.topk_group < 1)
          return r.fail(StatusCode::invalid_argument, c.n_group < 1 ? "n_group" : "topk_group",
                        std::string("missing: topk_method ") + method + " needs n_group and topk_group");
        if (c.n_routed_experts % c.n_group != 0)
          return r.fail(StatusCode::invalid_argument, "n_group",
                        "expected a divisor of n_routed_experts (" +
                            std::to_string(c.n_routed_experts) + "), found " +
                            std::to_string(c.n_group));
        if (c.topk_group > c.n_group)
          return r.fail(StatusCode::invalid_argument, "topk_group",
                        "expected at most n_group (" + std::to_string(c.n_group) + "), found " +
                            std::to_string(c.topk_group));
        // Enough experts must survive the group mask to pick top_k of them.
        if (c.topk_group * (c.n_routed_experts / c.n_group) < c.num_experts_per_tok)
          return r.fail(StatusCode::invalid_argument, "topk_group",
                        "topk_group x experts per group (" +
                            std::to_string(c.topk_group * (c.n_routed_experts / c.n_group)) +
                            ") is less than num_experts_per_tok (" +
                            std::to_string(c.num_experts_per_tok) + ")");
        if (c.topk_method == TopkMethod::noaux_tc && c.n_routed_experts / c.n_group < 2)
          return r.fail(StatusCode::invalid_argument, "n_group",
                        "noaux_tc scores a group by its two best experts, so every group needs "
                        "at least 2 experts; found " +
                            std::to_string(c.n_routed_experts / c.n_group));
      }
      if (c.n_group < 1) c.n_group = 1;
      if (c.topk_group < 1) c.topk_group = 1;
      if (c.routed_scaling_factor <= 0)
        return r.fail(StatusCode::invalid_argument, "routed_scaling_factor",
                      "expected a positive number, found " +
                          show(root.at("routed_scaling_factor")));
    } else {
      // No MoE layer at all: a dense model.
      c.n_routed_experts = 0;
      c.n_shared_experts = 0;
      c.num_experts_per_tok = 0;
      c.has_e_score_correction_bias = false;
      if (c.n_group < 1) c.n_group = 1;
      if (c.topk_group < 1) c.topk_group = 1;
    }
  }

  DSE_RETURN_IF_ERROR(parse_rope_scaling(root, c, source));
  DSE_RETURN_IF_ERROR(parse_quantization(root, c, source));
  return c;
}
}  // namespace

Result<ModelConfig> load_model_config(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::path file = path;
  if (std::filesystem::is_directory(path, ec)) file = path / "config.json";
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return Status(StatusCode::not_found,
                  file.string() + ": cannot open; expected a Hugging Face model folder with a "
                                  "config.json, or the path of the config file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad())
    return Status(StatusCode::io_error, file.string() + ": read failed");
  return parse_model_config(ss.str(), file.string());
}

}  // namespace dse::importer
