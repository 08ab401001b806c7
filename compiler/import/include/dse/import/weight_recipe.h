// How one weight slot of the artifact is produced from checkpoint tensors (copy, fused concat,
// MLA split of kv_b_proj, stacked experts, computed rope table), and the storage formats of
// docs/KERNELS.md with their byte sizes, so the planner can size slots before writing anything.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "dse/cpu/weight_format.h"
#include "dse/import/model_config.h"
#include "dse/import/safetensors.h"
#include "dse/status.h"

namespace dse::importer {

// Storage of a weight slot: the project's one enum, dse::cpu::WeightFormat (f32, f16, bf16, w8,
// w4, fp8; dse/cpu/weight_format.h, which also gives weight_format_name, weight_dtype,
// has_scale_slot and scale_dtype). Layouts (docs/KERNELS.md, weight-format suffix <w>):
//   f32, f16, bf16: [.., N, K] of that type, no scales.
//   w8:  I8 [.., N, K] + F32 scales [.., N] (symmetric per output row).
//   w4:  I4 [.., N, K] two per byte (low nibble = even k, stored q + 8) + F16 scales
//        [.., N, K/g] (symmetric per group of g inputs).
//   fp8: FP8E4M3 [.., N, K] + F32 scales [.., N] (per output row).
using WeightFormat = ::dse::cpu::WeightFormat;

// Bytes of the data slot / scale slot of a weight of `shape` (last dim = K). w4 needs an even K
// and K % group_size == 0 (checked by check_weight_format); other formats ignore group_size.
uint64_t weight_bytes(WeightFormat format, std::span<const int64_t> shape, int group_size);
uint64_t scale_bytes(WeightFormat format, std::span<const int64_t> shape, int group_size);
// invalid_argument when `shape` cannot be stored in `format` (e.g. w4 with K % g != 0).
Status check_weight_format(WeightFormat format, std::span<const int64_t> shape, int group_size);

struct WeightRecipe {
  enum Kind {
    copy,                  // sources[0] as is: shape of the tensor
    concat_rows,           // sources stacked along dim 0 (q|k|v, gate|up): [sum N_i, K]
    row_slice,             // rows [row_begin, row_end) of sources[0]: [row_end - row_begin, K]
    mla_w_uk,              // sources[0] = kv_b_proj [H*(dn+dv), C] -> W_UK [H, dn, C]
    mla_w_uv,              // sources[0] = kv_b_proj [H*(dn+dv), C] -> W_UV [H, dv, C]
    stack_experts,         // sources = one [N, K] tensor per expert -> [E, N, K]
    stack_experts_concat,  // sources = gate_0, up_0, gate_1, up_1, ... -> [E, 2I, H]
    rope_table,            // no source: cos/sin table [max_pos, rope_dim] (format f32 only)
  };
  Kind kind = copy;
  std::vector<std::string> sources;  // checkpoint tensor names
  int64_t row_begin = 0;             // row_slice
  int64_t row_end = 0;               // row_slice (exclusive)
  int64_t max_pos = 0;               // rope_table: positions in the table
};
const char* weight_recipe_kind_name(WeightRecipe::Kind kind);

// Short-hands that fill a WeightRecipe.
WeightRecipe recipe_copy(std::string name);
WeightRecipe recipe_concat_rows(std::vector<std::string> names);
WeightRecipe recipe_row_slice(std::string name, int64_t row_begin, int64_t row_end);
WeightRecipe recipe_mla_w_uk(std::string kv_b_proj_name);
WeightRecipe recipe_mla_w_uv(std::string kv_b_proj_name);
WeightRecipe recipe_stack_experts(std::vector<std::string> per_expert_names);
// gate_names[e] and up_names[e] of expert e; both lists the same length.
WeightRecipe recipe_stack_experts_concat(const std::vector<std::string>& gate_names,
                                         const std::vector<std::string>& up_names);
WeightRecipe recipe_rope_table(int64_t max_pos);

// The output shape of `recipe` after checking it against the checkpoint: sources exist, agree
// in K (and N for experts), row ranges are inside the tensor, kv_b_proj has H*(dn+dv) rows of
// kv_lora_rank columns. Errors name the recipe kind and the tensor.
Result<std::vector<int64_t>> recipe_shape(const WeightRecipe& recipe,
                                          const SafetensorsArchive& archive,
                                          const ModelConfig& config);

}  // namespace dse::importer
