// Weight recipes: output shapes of every kind, their errors, and the slot byte sizes of every
// format (docs/KERNELS.md).
#include "dse/import/weight_recipe.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "tiny_checkpoint.h"

using namespace dse;
using namespace dse::importer;
using namespace dse::importer::testing;
using Catch::Matchers::ContainsSubstring;
using Shape = std::vector<int64_t>;

namespace {

Shape shape_ok(const TinyCheckpoint& ck, const WeightRecipe& r) {
  auto s = recipe_shape(r, ck.archive, ck.config);
  INFO(s.status().message());
  REQUIRE(s.ok());
  return s.value();
}

Status shape_error(const TinyCheckpoint& ck, const WeightRecipe& r) {
  auto s = recipe_shape(r, ck.archive, ck.config);
  REQUIRE_FALSE(s.ok());
  return s.status();
}

std::vector<std::string> experts(const char* proj) {
  std::vector<std::string> v;
  for (int e = 0; e < 4; ++e) v.push_back(expert_name(e, proj));
  return v;
}

}  // namespace

TEST_CASE("every recipe kind has the output shape of docs/KERNELS.md", "[weight_recipe]") {
  TinyCheckpoint ck;
  CHECK(shape_ok(ck, recipe_copy("q_proj.weight")) == Shape{8, 16});
  CHECK(shape_ok(ck, recipe_copy("model.norm.weight")) == Shape{16});
  CHECK(shape_ok(ck, recipe_concat_rows({"q_proj.weight", "k_proj.weight", "v_proj.weight"})) == Shape{16, 16});
  CHECK(shape_ok(ck, recipe_concat_rows({"q_proj.bias", "k_proj.bias", "v_proj.bias"})) == Shape{16});
  CHECK(shape_ok(ck, recipe_row_slice("wide.weight", 8, 20)) == Shape{12, 64});
  CHECK(shape_ok(ck, recipe_mla_w_uk("model.layers.1.self_attn.kv_b_proj.weight")) == Shape{2, 4, 8});
  CHECK(shape_ok(ck, recipe_mla_w_uv("model.layers.1.self_attn.kv_b_proj.weight")) == Shape{2, 3, 8});
  CHECK(shape_ok(ck, recipe_stack_experts(experts("down_proj"))) == Shape{4, 16, 6});
  CHECK(shape_ok(ck, recipe_stack_experts_concat(experts("gate_proj"), experts("up_proj"))) == Shape{4, 12, 16});
  CHECK(shape_ok(ck, recipe_rope_table(32)) == Shape{32, 2});
}

TEST_CASE("recipes that do not fit the checkpoint are rejected naming the tensor", "[weight_recipe]") {
  TinyCheckpoint ck;
  Status missing = shape_error(ck, recipe_copy("model.layers.9.mlp.up_proj.weight"));
  CHECK(missing.code() == StatusCode::not_found);
  CHECK_THAT(missing.message(), ContainsSubstring("model.layers.9.mlp.up_proj.weight"));

  Status k_mismatch = shape_error(ck, recipe_concat_rows({"q_proj.weight", "wide.weight"}));
  CHECK(k_mismatch.code() == StatusCode::invalid_argument);
  CHECK_THAT(k_mismatch.message(), ContainsSubstring("wide.weight"));

  Status out_of_range = shape_error(ck, recipe_row_slice("wide.weight", 30, 41));
  CHECK_THAT(out_of_range.message(), ContainsSubstring("[30, 41)"));

  Status kv_b = shape_error(ck, recipe_mla_w_uk("wide.weight"));
  CHECK_THAT(kv_b.message(), ContainsSubstring("[14, 8]"));

  Status mixed = shape_error(ck, recipe_stack_experts({expert_name(0, "gate_proj"), expert_name(0, "down_proj")}));
  CHECK_THAT(mixed.message(), ContainsSubstring("same shape"));

  Status odd = shape_error(ck, recipe_stack_experts_concat(experts("gate_proj"), {expert_name(0, "up_proj")}));
  CHECK_THAT(odd.message(), ContainsSubstring("gate and up"));

  Status vec_with_matrix = shape_error(ck, recipe_concat_rows({"q_proj.bias", "q_proj.weight"}));
  CHECK(vec_with_matrix.code() == StatusCode::invalid_argument);

  Status no_pos = shape_error(ck, recipe_rope_table(0));
  CHECK(no_pos.code() == StatusCode::invalid_argument);
}

TEST_CASE("slot byte sizes follow the weight formats", "[weight_recipe]") {
  const Shape s = {4, 12, 256};  // E, N, K
  CHECK(weight_bytes(WeightFormat::f32, s, 0) == 4u * 12 * 256 * 4);
  CHECK(weight_bytes(WeightFormat::f16, s, 0) == 4u * 12 * 256 * 2);
  CHECK(weight_bytes(WeightFormat::bf16, s, 0) == 4u * 12 * 256 * 2);
  CHECK(weight_bytes(WeightFormat::w8, s, 0) == 4u * 12 * 256);
  CHECK(weight_bytes(WeightFormat::fp8, s, 0) == 4u * 12 * 256);
  CHECK(weight_bytes(WeightFormat::w4, s, 128) == 4u * 12 * 256 / 2);
  CHECK(scale_bytes(WeightFormat::f16, s, 0) == 0);
  CHECK(scale_bytes(WeightFormat::w8, s, 0) == 4u * 12 * 4);
  CHECK(scale_bytes(WeightFormat::fp8, s, 0) == 4u * 12 * 4);
  CHECK(scale_bytes(WeightFormat::w4, s, 128) == 4u * 12 * 2 * 2);
  CHECK(weight_bytes(WeightFormat::f16, Shape{16}, 0) == 32);
  CHECK(check_weight_format(WeightFormat::w4, s, 128).ok());
  Status bad_group = check_weight_format(WeightFormat::w4, s, 96);
  CHECK(bad_group.code() == StatusCode::invalid_argument);
  CHECK_THAT(bad_group.message(), ContainsSubstring("multiple"));
  CHECK(check_weight_format(WeightFormat::w4, s, 0).code() == StatusCode::invalid_argument);
  CHECK(check_weight_format(WeightFormat::w8, s, 0).ok());
}
