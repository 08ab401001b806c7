// Weight recipes: validation against the checkpoint, output shapes and slot sizes.
#include "dse/import/weight_recipe.h"

#include <string>

#include "dse/import/rope_table.h"
#include "dse/import/tensor_reader.h"
#include "row_plan.h"

namespace dse::importer {
namespace {

std::string shape_str(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

int64_t rows_of(std::span<const int64_t> shape) {
  int64_t r = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) r *= shape[i];
  return r;
}
int64_t cols_of(std::span<const int64_t> shape) { return shape.empty() ? 1 : shape.back(); }

Status recipe_error(const WeightRecipe& r, StatusCode code, const std::string& what) {
  std::string srcs;
  for (size_t i = 0; i < r.sources.size() && i < 2; ++i) srcs += (i ? ", " : "") + ("\"" + r.sources[i] + "\"");
  if (r.sources.size() > 2) srcs += ", ... (" + std::to_string(r.sources.size()) + " sources)";
  return Status(code, std::string("weight recipe ") + weight_recipe_kind_name(r.kind) +
                          (srcs.empty() ? "" : " of " + srcs) + ": " + what);
}

bool convertible(StDType d) {
  return d == StDType::f32 || d == StDType::f16 || d == StDType::bf16 || d == StDType::f8_e4m3;
}

// Looks a source up and checks that it can be converted (including an FP8 scale companion).
Result<const TensorInfo*> source(const WeightRecipe& r, const SafetensorsArchive& a,
                                 const std::string& name) {
  const TensorInfo* t = a.find(name);
  if (!t)
    return recipe_error(r, StatusCode::not_found,
                        "tensor \"" + name + "\" is not in the checkpoint; the config and the "
                        "weights disagree (wrong folder, or a missing shard?)");
  if (!convertible(t->dtype))
    return recipe_error(r, StatusCode::unsupported,
                        "tensor \"" + name + "\" has dtype " + st_dtype_name(t->dtype) +
                            "; expected F32, F16, BF16 or F8_E4M3");
  if (t->dtype == StDType::f8_e4m3 && !a.find(scale_inv_name(name)))
    return recipe_error(r, StatusCode::not_found,
                        "tensor \"" + name + "\" is F8_E4M3 but \"" + scale_inv_name(name) +
                            "\" is missing; only block-scaled FP8 checkpoints are supported");
  return t;
}

Status need_matrix(const WeightRecipe& r, const TensorInfo& t) {
  if (t.shape.size() != 2)
    return recipe_error(r, StatusCode::invalid_argument,
                        "tensor \"" + t.name + "\" has shape " + shape_str(t.shape) +
                            ", expected a matrix [N, K]");
  return Status::Ok();
}

}  // namespace

const char* weight_recipe_kind_name(WeightRecipe::Kind kind) {
  switch (kind) {
    case WeightRecipe::copy: return "copy";
    case WeightRecipe::concat_rows: return "concat_rows";
    case WeightRecipe::row_slice: return "row_slice";
    case WeightRecipe::mla_w_uk: return "mla_w_uk";
    case WeightRecipe::mla_w_uv: return "mla_w_uv";
    case WeightRecipe::stack_experts: return "stack_experts";
    case WeightRecipe::stack_experts_concat: return "stack_experts_concat";
    case WeightRecipe::rope_table: return "rope_table";
  }
  return "unknown";
}

WeightRecipe recipe_copy(std::string name) {
  WeightRecipe r;
  r.kind = WeightRecipe::copy;
  r.sources = {std::move(name)};
  return r;
}
WeightRecipe recipe_concat_rows(std::vector<std::string> names) {
  WeightRecipe r;
  r.kind = WeightRecipe::concat_rows;
  r.sources = std::move(names);
  return r;
}
WeightRecipe recipe_row_slice(std::string name, int64_t row_begin, int64_t row_end) {
  WeightRecipe r;
  r.kind = WeightRecipe::row_slice;
  r.sources = {std::move(name)};
  r.row_begin = row_begin;
  r.row_end = row_end;
  return r;
}
WeightRecipe recipe_mla_w_uk(std::string kv_b_proj_name) {
  WeightRecipe r;
  r.kind = WeightRecipe::mla_w_uk;
  r.sources = {std::move(kv_b_proj_name)};
  return r;
}
WeightRecipe recipe_mla_w_uv(std::string kv_b_proj_name) {
  WeightRecipe r;
  r.kind = WeightRecipe::mla_w_uv;
  r.sources = {std::move(kv_b_proj_name)};
  return r;
}
WeightRecipe recipe_stack_experts(std::vector<std::string> per_expert_names) {
  WeightRecipe r;
  r.kind = WeightRecipe::stack_experts;
  r.sources = std::move(per_expert_names);
  return r;
}
WeightRecipe recipe_stack_experts_concat(const std::vector<std::string>& gate_names,
                                         const std::vector<std::string>& up_names) {
  WeightRecipe r;
  r.kind = WeightRecipe::stack_experts_concat;
  // A length mismatch is kept visible (odd count) so recipe_shape reports it.
  size_t n = std::max(gate_names.size(), up_names.size());
  for (size_t e = 0; e < n; ++e) {
    if (e < gate_names.size()) r.sources.push_back(gate_names[e]);
    if (e < up_names.size()) r.sources.push_back(up_names[e]);
  }
  return r;
}
WeightRecipe recipe_rope_table(int64_t max_pos) {
  WeightRecipe r;
  r.kind = WeightRecipe::rope_table;
  r.max_pos = max_pos;
  return r;
}

Result<RowPlan> plan_rows(const WeightRecipe& r, const SafetensorsArchive& a, const ModelConfig& c) {
  RowPlan p;
  if (c.quantization_config.present) {
    p.fp8_block_rows = c.quantization_config.block_rows;
    p.fp8_block_cols = c.quantization_config.block_cols;
  }
  auto expect_sources = [&](size_t n) -> Status {
    if (r.sources.size() != n)
      return recipe_error(r, StatusCode::invalid_argument,
                          "expected " + std::to_string(n) + " source tensor(s), found " +
                              std::to_string(r.sources.size()));
    return Status::Ok();
  };

  switch (r.kind) {
    case WeightRecipe::copy: {
      DSE_RETURN_IF_ERROR(expect_sources(1));
      auto t = source(r, a, r.sources[0]);
      if (!t.ok()) return t.status();
      const TensorInfo& s = *t.value();
      p.shape = s.shape;
      p.runs.push_back({&s, 0, 0, s.rows(), 0, s.cols()});
      break;
    }
    case WeightRecipe::concat_rows: {
      if (r.sources.empty())
        return recipe_error(r, StatusCode::invalid_argument, "expected at least one source tensor");
      std::vector<const TensorInfo*> ts;
      for (const std::string& n : r.sources) {
        auto t = source(r, a, n);
        if (!t.ok()) return t.status();
        ts.push_back(t.value());
      }
      const size_t rank = ts[0]->shape.size();
      if (rank == 1) {
        // Vectors (q|k|v biases): one output row, each source at its column offset.
        int64_t total = 0;
        for (const TensorInfo* t : ts) {
          if (t->shape.size() != 1)
            return recipe_error(r, StatusCode::invalid_argument,
                                "cannot concatenate \"" + t->name + "\" " + shape_str(t->shape) +
                                    " with the vector \"" + ts[0]->name + "\"");
          p.runs.push_back({t, 0, 0, 1, total, t->shape[0]});
          total += t->shape[0];
        }
        p.shape = {total};
        break;
      }
      int64_t rows = 0;
      for (const TensorInfo* t : ts) {
        DSE_RETURN_IF_ERROR(need_matrix(r, *t));
        if (t->shape[1] != ts[0]->shape[1])
          return recipe_error(r, StatusCode::invalid_argument,
                              "\"" + t->name + "\" " + shape_str(t->shape) + " and \"" +
                                  ts[0]->name + "\" " + shape_str(ts[0]->shape) +
                                  " differ in the input dim, so their rows cannot be stacked");
        p.runs.push_back({t, 0, rows, t->shape[0], 0, t->shape[1]});
        rows += t->shape[0];
      }
      p.shape = {rows, ts[0]->shape[1]};
      break;
    }
    case WeightRecipe::row_slice: {
      DSE_RETURN_IF_ERROR(expect_sources(1));
      auto t = source(r, a, r.sources[0]);
      if (!t.ok()) return t.status();
      const TensorInfo& s = *t.value();
      if (s.shape.size() < 2)
        return recipe_error(r, StatusCode::invalid_argument,
                            "\"" + s.name + "\" " + shape_str(s.shape) + " has no rows to slice");
      if (r.row_begin < 0 || r.row_end <= r.row_begin || r.row_end > s.shape[0])
        return recipe_error(r, StatusCode::invalid_argument,
                            "rows [" + std::to_string(r.row_begin) + ", " +
                                std::to_string(r.row_end) + ") are not a non-empty range inside \"" +
                                s.name + "\" " + shape_str(s.shape));
      p.shape = s.shape;
      p.shape[0] = r.row_end - r.row_begin;
      p.runs.push_back({&s, r.row_begin, 0, r.row_end - r.row_begin, 0, s.cols()});
      break;
    }
    case WeightRecipe::mla_w_uk:
    case WeightRecipe::mla_w_uv: {
      DSE_RETURN_IF_ERROR(expect_sources(1));
      if (!uses_mla(c))
        return recipe_error(r, StatusCode::invalid_argument,
                            std::string("MLA weights need a DeepSeek-V2/V3 config, found ") +
                                model_family_name(c.family));
      auto t = source(r, a, r.sources[0]);
      if (!t.ok()) return t.status();
      const TensorInfo& s = *t.value();
      DSE_RETURN_IF_ERROR(need_matrix(r, s));
      const int64_t H = c.num_heads, dn = c.qk_nope_head_dim, dv = c.v_head_dim, C = c.kv_lora_rank;
      if (s.shape[0] != H * (dn + dv) || s.shape[1] != C)
        return recipe_error(r, StatusCode::invalid_argument,
                            "kv_b_proj \"" + s.name + "\" has shape " + shape_str(s.shape) +
                                ", expected [num_heads * (qk_nope_head_dim + v_head_dim), "
                                "kv_lora_rank] = [" + std::to_string(H * (dn + dv)) + ", " +
                                std::to_string(C) + "]");
      // kv_b_proj viewed as [H, dn + dv, C]: per head the dn K rows, then the dv V rows.
      const bool uk = r.kind == WeightRecipe::mla_w_uk;
      const int64_t d = uk ? dn : dv;
      for (int64_t h = 0; h < H; ++h)
        p.runs.push_back({&s, h * (dn + dv) + (uk ? 0 : dn), h * d, d, 0, C});
      p.shape = {H, d, C};
      break;
    }
    case WeightRecipe::stack_experts:
    case WeightRecipe::stack_experts_concat: {
      const bool fused = r.kind == WeightRecipe::stack_experts_concat;
      if (r.sources.empty() || (fused && r.sources.size() % 2 != 0))
        return recipe_error(r, StatusCode::invalid_argument,
                            fused ? "expected gate and up tensors for every expert (an even, "
                                    "non-zero count), found " + std::to_string(r.sources.size())
                                  : std::string("expected one tensor per expert, found none"));
      std::vector<const TensorInfo*> ts;
      for (const std::string& n : r.sources) {
        auto t = source(r, a, n);
        if (!t.ok()) return t.status();
        DSE_RETURN_IF_ERROR(need_matrix(r, *t.value()));
        if (t.value()->shape != a.find(r.sources[0])->shape)
          return recipe_error(r, StatusCode::invalid_argument,
                              "\"" + n + "\" has shape " + shape_str(t.value()->shape) +
                                  " but \"" + r.sources[0] + "\" has " +
                                  shape_str(a.find(r.sources[0])->shape) +
                                  "; every expert must have the same shape");
        ts.push_back(t.value());
      }
      const int64_t N = ts[0]->shape[0], K = ts[0]->shape[1];
      for (size_t i = 0; i < ts.size(); ++i) p.runs.push_back({ts[i], 0, int64_t(i) * N, N, 0, K});
      const int64_t E = fused ? int64_t(ts.size() / 2) : int64_t(ts.size());
      p.shape = {E, fused ? 2 * N : N, K};
      break;
    }
    case WeightRecipe::rope_table: {
      if (!r.sources.empty())
        return recipe_error(r, StatusCode::invalid_argument, "a rope table has no source tensors");
      DSE_RETURN_IF_ERROR(check_rope_supported(c, r.max_pos));
      p.shape = {r.max_pos, rope_dim(c)};
      p.rope_table = true;
      break;
    }
    default:
      return Status(StatusCode::invalid_argument, "weight recipe: unknown kind " + std::to_string(int(r.kind)));
  }
  p.rows = rows_of(p.shape);
  p.cols = cols_of(p.shape);
  return p;
}

Result<std::vector<int64_t>> recipe_shape(const WeightRecipe& recipe, const SafetensorsArchive& archive,
                                          const ModelConfig& config) {
  auto p = plan_rows(recipe, archive, config);
  if (!p.ok()) return p.status();
  return p.value().shape;
}

uint64_t weight_bytes(WeightFormat format, std::span<const int64_t> shape, int /*group_size*/) {
  int64_t n = cpu::dtype_bytes(cpu::weight_dtype(format), rows_of(shape) * cols_of(shape));
  return n < 0 ? 0 : uint64_t(n);
}

uint64_t scale_bytes(WeightFormat format, std::span<const int64_t> shape, int group_size) {
  const int64_t rows = rows_of(shape), cols = cols_of(shape);
  switch (format) {
    case WeightFormat::w8:
    case WeightFormat::fp8: return uint64_t(rows) * 4;
    case WeightFormat::w4: return group_size > 0 ? uint64_t(rows) * uint64_t(cols / group_size) * 2 : 0;
    default: return 0;
  }
}

Status check_weight_format(WeightFormat format, std::span<const int64_t> shape, int group_size) {
  for (int64_t d : shape)
    if (d <= 0)
      return Status(StatusCode::invalid_argument,
                    "weight of shape " + shape_str(shape) + " has an empty dimension");
  if (format == WeightFormat::w4) {
    const int64_t k = cols_of(shape);
    if (group_size < 2 || group_size % 2 != 0)
      return Status(StatusCode::invalid_argument,
                    "w4 needs an even group size >= 2, found " + std::to_string(group_size) +
                        "; use --group-size 128 (the default) or 64, 32");
    if (k % group_size != 0)
      return Status(StatusCode::invalid_argument,
                    "w4 with group size " + std::to_string(group_size) + " needs the input dim of " +
                        shape_str(shape) + " (" + std::to_string(k) +
                        ") to be a multiple of it; pick a group size that divides " +
                        std::to_string(k) + " or keep this tensor in w8/f16");
  }
  return Status::Ok();
}

}  // namespace dse::importer
