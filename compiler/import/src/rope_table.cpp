// Rope frequencies, amplitude, softmax scale and cos/sin tables, following transformers'
// modeling_rope_utils.py and the DeepSeek attention classes step by step, in f32 where they are.
#include "dse/import/rope_table.h"

#include <cmath>
#include <numbers>
#include <string>

namespace dse::importer {
namespace {

// transformers: 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)), all in f32.
float base_pos_freq(double base, int64_t j, int64_t dim) {
  float e = float(2 * j) / float(dim);
  return float(std::pow(double(float(base)), double(e)));
}

// yarn_get_mscale / get_mscale.
double get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

std::vector<float> inv_freq_f32(const ModelConfig& c) {
  const int64_t dim = rope_dim(c);
  const int64_t half = dim / 2;
  const RopeScalingConfig& s = c.rope_scaling;
  std::vector<float> inv(static_cast<size_t>(half));
  switch (s.type) {
    case RopeScalingType::none:
      for (int64_t j = 0; j < half; ++j) inv[size_t(j)] = 1.0f / base_pos_freq(c.rope_theta, j, dim);
      break;
    case RopeScalingType::linear:
      for (int64_t j = 0; j < half; ++j)
        inv[size_t(j)] = (1.0f / base_pos_freq(c.rope_theta, j, dim)) / float(s.factor);
      break;
    case RopeScalingType::dynamic: {
      // At any length up to max_position_embeddings HF uses the init value, seq_len = max_pos.
      double seq = double(c.max_position_embeddings);
      double base = c.rope_theta * std::pow(s.factor * seq / double(c.max_position_embeddings) -
                                                (s.factor - 1.0),
                                            double(dim) / double(dim - 2));
      for (int64_t j = 0; j < half; ++j) inv[size_t(j)] = 1.0f / base_pos_freq(base, j, dim);
      break;
    }
    case RopeScalingType::llama3: {
      const float factor = float(s.factor);
      const float old_len = float(s.original_max_position_embeddings);
      const float low_wavelen = float(double(s.original_max_position_embeddings) / s.low_freq_factor);
      const float high_wavelen = float(double(s.original_max_position_embeddings) / s.high_freq_factor);
      const float two_pi = float(2.0 * std::numbers::pi);
      for (int64_t j = 0; j < half; ++j) {
        float f = 1.0f / base_pos_freq(c.rope_theta, j, dim);
        float wavelen = two_pi / f;
        float g = wavelen > low_wavelen ? f / factor : f;
        bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
        if (medium) {
          float smooth = (old_len / wavelen - float(s.low_freq_factor)) /
                         (float(s.high_freq_factor) - float(s.low_freq_factor));
          g = (1.0f - smooth) * g / factor + smooth * g;
        }
        inv[size_t(j)] = g;
      }
      break;
    }
    case RopeScalingType::yarn: {
      const double base = c.rope_theta;
      const double factor = s.factor;
      const double L0 = double(s.original_max_position_embeddings);
      auto correction_dim = [&](double rotations) {
        return (double(dim) * std::log(L0 / (rotations * 2.0 * std::numbers::pi))) /
               (2.0 * std::log(base));
      };
      double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
      if (s.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, double(dim - 1));
      if (low == high) high += 0.001;  // HF: prevent a zero-width ramp
      const float lowf = float(low), span = float(high - low);
      for (int64_t j = 0; j < half; ++j) {
        float pos_freq = base_pos_freq(base, j, dim);
        float extrapolation = 1.0f / pos_freq;
        float interpolation = 1.0f / (float(factor) * pos_freq);
        float ramp = (float(j) - lowf) / span;
        ramp = std::min(std::max(ramp, 0.0f), 1.0f);
        float extra_factor = 1.0f - ramp;
        inv[size_t(j)] = interpolation * (1.0f - extra_factor) + extrapolation * extra_factor;
      }
      break;
    }
  }
  return inv;
}

}  // namespace

int64_t rope_dim(const ModelConfig& c) { return uses_mla(c) ? c.qk_rope_head_dim : c.head_dim; }
int64_t rope_offset(const ModelConfig& c) { return uses_mla(c) ? c.qk_nope_head_dim : 0; }
bool rope_interleaved(const ModelConfig& c) { return uses_mla(c) && c.rope_interleave; }

std::vector<double> rope_inv_freq(const ModelConfig& c) {
  std::vector<float> f = inv_freq_f32(c);
  return std::vector<double>(f.begin(), f.end());
}

double rope_attention_factor(const ModelConfig& c) {
  const RopeScalingConfig& s = c.rope_scaling;
  if (s.type != RopeScalingType::yarn) return 1.0;
  if (s.attention_factor > 0) return s.attention_factor;
  if (s.mscale != 0 && s.mscale_all_dim != 0)
    return get_mscale(s.factor, s.mscale) / get_mscale(s.factor, s.mscale_all_dim);
  return get_mscale(s.factor, 1.0);
}

double attention_softmax_scale(const ModelConfig& c) {
  if (!uses_mla(c)) return std::pow(double(c.head_dim), -0.5);
  // yarn_apply_mscale of modeling_deepseek_v2/v3: for any non-default rope type with a
  // non-zero mscale_all_dim.
  double scale = std::pow(double(c.qk_nope_head_dim + c.qk_rope_head_dim), -0.5);
  const RopeScalingConfig& s = c.rope_scaling;
  if (s.type != RopeScalingType::none && s.mscale_all_dim != 0) {
    double m = get_mscale(s.factor, s.mscale_all_dim);
    scale = scale * m * m;
  }
  return scale;
}

Status check_rope_supported(const ModelConfig& c, int64_t max_pos) {
  if (max_pos <= 0)
    return Status(StatusCode::invalid_argument,
                  "rope table: the context must hold at least one position, found " +
                      std::to_string(max_pos));
  if (c.rope_scaling.type == RopeScalingType::dynamic && max_pos > c.max_position_embeddings)
    return Status(StatusCode::unsupported,
                  "rope_scaling.rope_type \"dynamic\": dynamic NTK rope changes every frequency "
                  "once a sequence grows past max_position_embeddings (" +
                      std::to_string(c.max_position_embeddings) +
                      "), which a precomputed table cannot follow; compile with a context of at "
                      "most " + std::to_string(c.max_position_embeddings) + " positions (found " +
                      std::to_string(max_pos) + ")");
  return Status::Ok();
}

Status fill_rope_rows(const ModelConfig& c, int64_t pos_begin, int64_t pos_end, std::span<float> rows) {
  const int64_t dim = rope_dim(c), half = dim / 2;
  if (pos_begin < 0 || pos_end < pos_begin)
    return Status(StatusCode::invalid_argument, "fill_rope_rows: bad position range [" +
                                                    std::to_string(pos_begin) + ", " +
                                                    std::to_string(pos_end) + ")");
  if (int64_t(rows.size()) != (pos_end - pos_begin) * dim)
    return Status(StatusCode::invalid_argument,
                  "fill_rope_rows: output holds " + std::to_string(rows.size()) + " floats, " +
                      std::to_string(pos_end - pos_begin) + " positions x rope_dim " +
                      std::to_string(dim) + " need " + std::to_string((pos_end - pos_begin) * dim));
  DSE_RETURN_IF_ERROR(check_rope_supported(c, pos_end));
  const std::vector<float> inv = inv_freq_f32(c);
  const float a = float(rope_attention_factor(c));
  for (int64_t p = pos_begin; p < pos_end; ++p) {
    float* row = rows.data() + (p - pos_begin) * dim;
    for (int64_t j = 0; j < half; ++j) {
      float angle = float(p) * inv[size_t(j)];  // HF: f32 matmul of inv_freq and positions
      row[j] = float(std::cos(double(angle))) * a;
      row[half + j] = float(std::sin(double(angle))) * a;
    }
  }
  return Status::Ok();
}

Status fill_rope_table(const ModelConfig& c, int64_t max_pos, std::span<float> table) {
  DSE_RETURN_IF_ERROR(check_rope_supported(c, max_pos));
  return fill_rope_rows(c, 0, max_pos, table);
}

}  // namespace dse::importer
