// Rotary position embedding: inverse frequencies for every rope_scaling type (none, linear,
// dynamic within the trained context, llama3, yarn), the YaRN amplitude, the attention softmax
// scale, and the cos/sin table the rope_f32 kernel reads (docs/KERNELS.md).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "dse/import/model_config.h"
#include "dse/status.h"

namespace dse::importer {

// Number of rotated dims per head: MLA qk_rope_head_dim; else head_dim (partial rotary is rejected).
int64_t rope_dim(const ModelConfig& config);
// Offset of the rotated dims inside a q/k head: MLA qk_nope_head_dim; else 0.
int64_t rope_offset(const ModelConfig& config);
// Pairing: true (adjacent pairs) for MLA (V3 only while `rope_interleave`, its default), false
// (rotate-half) for Llama/Qwen2 and for V3 with rope_interleave false. Use it for MLA too.
bool rope_interleaved(const ModelConfig& config);

// rope_dim/2 inverse frequencies, as Hugging Face's rope init functions compute them: in f32
// arithmetic like torch, so the values are HF's buffers to within an ulp (widened to double).
std::vector<double> rope_inv_freq(const ModelConfig& config);

// The amplitude multiplied into cos and sin: yarn's attention_factor (explicit, or
// get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim), or get_mscale(factor)), else 1.
double rope_attention_factor(const ModelConfig& config);

// The attention logit scale. Llama/Qwen2: head_dim^-0.5. MLA: (dn + dr)^-0.5, times m^2 with
// m = 0.1 * mscale_all_dim * ln(factor) + 1 when rope_scaling has mscale_all_dim and factor > 1.
double attention_softmax_scale(const ModelConfig& config);

// Whether a table of `max_pos` positions reproduces the model exactly: dynamic NTK is only
// static up to max_position_embeddings, so a longer context is rejected (unsupported).
Status check_rope_supported(const ModelConfig& config, int64_t max_pos);

// Fills `table` ([max_pos, rope_dim], f32): table[p, j] = cos(p * inv_freq[j]) * a,
// (angle = f32(p) * f32 inv_freq rounded to f32, as HF's f32 matmul; cos/sin then exact),
// table[p, rope_dim/2 + j] = sin(p * inv_freq[j]) * a, a = rope_attention_factor.
// `table.size()` must be max_pos * rope_dim.
Status fill_rope_table(const ModelConfig& config, int64_t max_pos, std::span<float> table);

// Rows [pos_begin, pos_end) of the same table into `rows` ((pos_end - pos_begin) * rope_dim).
Status fill_rope_rows(const ModelConfig& config, int64_t pos_begin, int64_t pos_end,
                      std::span<float> rows);

}  // namespace dse::importer
