// Test support: a tiny DeepSeek-V2-style checkpoint (MLA without query compression, MoE with
// four experts, Qwen2-like q/k/v with biases, one FP8 block-scaled matrix) written to a
// temporary folder, and straightforward f32 assembly of what each recipe should produce.
#pragma once

#include <random>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>

#include "dse/import/model_config.h"
#include "dse/import/safetensors.h"
#include "dse/import/tensor_reader.h"
#include "safetensors_test_writer.h"

namespace dse::importer::testing {

// H=2, dn=4, dr=2, dv=3, C=8, hidden 16, 4 experts of width 6.
inline const char* kTinyConfig = R"({
  "architectures": ["DeepseekV2ForCausalLM"], "vocab_size": 10, "hidden_size": 16,
  "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
  "num_key_value_heads": 2, "q_lora_rank": null, "kv_lora_rank": 8, "qk_nope_head_dim": 4,
  "qk_rope_head_dim": 2, "v_head_dim": 3, "n_routed_experts": 4, "n_shared_experts": 1,
  "num_experts_per_tok": 2, "moe_intermediate_size": 6, "first_k_dense_replace": 1,
  "max_position_embeddings": 64, "rope_scaling": {"type": "yarn", "factor": 4,
  "original_max_position_embeddings": 16, "mscale": 0.707, "mscale_all_dim": 0.707}})";

inline std::vector<float> random_values(size_t n, uint32_t seed, float amplitude = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-amplitude, amplitude);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline std::string expert_name(int e, const char* proj) {
  return "model.layers.1.mlp.experts." + std::to_string(e) + "." + proj + ".weight";
}

struct TinyCheckpoint {
  TempDir dir;
  ModelConfig config;
  SafetensorsArchive archive;

  static constexpr int64_t kFp8Rows = 266, kFp8Cols = 160;  // partial 128x128 blocks

  TinyCheckpoint() {
    auto c = parse_model_config(kTinyConfig, "tiny config.json");
    REQUIRE(c.ok());
    config = c.value();
    std::vector<StTensor> t;
    t.push_back(bf16_tensor("model.layers.1.self_attn.kv_b_proj.weight", {14, 8}, random_values(14 * 8, 1)));
    t.push_back(f16_tensor("q_proj.weight", {8, 16}, random_values(8 * 16, 2)));
    t.push_back(f16_tensor("k_proj.weight", {4, 16}, random_values(4 * 16, 3)));
    t.push_back(bf16_tensor("v_proj.weight", {4, 16}, random_values(4 * 16, 4)));
    t.push_back(f32_tensor("q_proj.bias", {8}, random_values(8, 5)));
    t.push_back(f32_tensor("k_proj.bias", {4}, random_values(4, 6)));
    t.push_back(f32_tensor("v_proj.bias", {4}, random_values(4, 7)));
    t.push_back(f32_tensor("model.norm.weight", {16}, random_values(16, 8)));
    t.push_back(bf16_tensor("wide.weight", {40, 64}, random_values(40 * 64, 9, 3.0f)));
    for (int e = 0; e < 4; ++e) {
      t.push_back(bf16_tensor(expert_name(e, "gate_proj"), {6, 16}, random_values(96, 100 + uint32_t(e))));
      t.push_back(bf16_tensor(expert_name(e, "up_proj"), {6, 16}, random_values(96, 200 + uint32_t(e))));
      t.push_back(bf16_tensor(expert_name(e, "down_proj"), {16, 6}, random_values(96, 300 + uint32_t(e))));
    }
    std::vector<uint8_t> q(static_cast<size_t>(kFp8Rows * kFp8Cols));
    std::mt19937 rng(11);
    for (auto& b : q) {
      b = uint8_t(rng() & 0xff);
      if ((b & 0x7f) == 0x7f) b = 0x22;
    }
    t.push_back(fp8_tensor("fp8.weight", {kFp8Rows, kFp8Cols}, q));
    t.push_back(f32_tensor("fp8.weight_scale_inv", {3, 2}, {0.01f, 0.02f, 0.005f, 0.04f, 0.03f, 0.001f}));
    write_safetensors(dir / "model.safetensors", t);
    auto a = SafetensorsArchive::open(dir.path());
    INFO(a.status().message());
    REQUIRE(a.ok());
    archive = std::move(a.value());
  }

  std::vector<float> f32(const std::string& name) const {
    const TensorInfo* t = archive.find(name);
    REQUIRE(t);
    auto v = read_tensor_f32(archive, *t);
    REQUIRE(v.ok());
    return v.value();
  }
};

}  // namespace dse::importer::testing
