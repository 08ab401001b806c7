// Quantization packers for the w8, w4 and fp8 weight formats, plus plain f16/bf16 conversion.
#include "dse/cpu/weight_packing.h"

#include <cmath>
#include <string>

#include "dse/targets/dtype_convert.h"

namespace dse::cpu {
namespace {

Status size_error(const char* fn, const char* what, size_t found, int64_t expected) {
  return Status(StatusCode::invalid_argument,
                std::string(fn) + ": " + what + " holds " + std::to_string(found) + " elements, expected " +
                    std::to_string(expected) + " for the given shape; size the buffer with "
                    "packed_weight_bytes / packed_scale_count");
}

Status check_matrix(const char* fn, std::span<const float> w, int64_t n, int64_t k) {
  if (n <= 0 || k <= 0) {
    return Status(StatusCode::invalid_argument, std::string(fn) + ": shape [" + std::to_string(n) + ", " +
                                                    std::to_string(k) + "] must have positive dimensions");
  }
  if (int64_t(w.size()) != n * k) return size_error(fn, "the weight span", w.size(), n * k);
  return Status::Ok();
}

Status non_finite(const char* fn, int64_t n, int64_t k, int64_t cols) {
  return Status(StatusCode::invalid_argument,
                std::string(fn) + ": weight [" + std::to_string(n) + ", " + std::to_string(k) + "] of a [?, " +
                    std::to_string(cols) + "] matrix is not finite; the checkpoint tensor is corrupt or "
                    "was not converted to f32 correctly");
}

}  // namespace

int64_t packed_weight_bytes(WeightFormat f, int64_t n, int64_t k) {
  return dtype_bytes(weight_dtype(f), n * k);
}

int64_t packed_scale_count(WeightFormat f, int64_t n, int64_t k, int64_t group) {
  switch (f) {
    case WeightFormat::w8: case WeightFormat::fp8: return n;
    case WeightFormat::w4: return group > 0 ? n * (k / group) : -1;
    default: return 0;
  }
}

Status pack_f16(std::span<const float> w, std::span<uint16_t> out) {
  if (out.size() != w.size()) return size_error("pack_f16", "the output span", out.size(), int64_t(w.size()));
  for (size_t i = 0; i < w.size(); ++i) out[i] = f32_to_f16(w[i]);
  return Status::Ok();
}

Status pack_bf16(std::span<const float> w, std::span<uint16_t> out) {
  if (out.size() != w.size()) return size_error("pack_bf16", "the output span", out.size(), int64_t(w.size()));
  for (size_t i = 0; i < w.size(); ++i) out[i] = f32_to_bf16(w[i]);
  return Status::Ok();
}

Status pack_w8(std::span<const float> w, int64_t n, int64_t k, std::span<int8_t> q, std::span<float> scales) {
  DSE_RETURN_IF_ERROR(check_matrix("pack_w8", w, n, k));
  if (int64_t(q.size()) != n * k) return size_error("pack_w8", "the quantized span", q.size(), n * k);
  if (int64_t(scales.size()) != n) return size_error("pack_w8", "the scale span", scales.size(), n);
  for (int64_t r = 0; r < n; ++r) {
    const float* row = w.data() + r * k;
    float amax = 0.0f;
    for (int64_t i = 0; i < k; ++i) {
      if (!std::isfinite(row[i])) return non_finite("pack_w8", r, i, k);
      amax = std::fmax(amax, std::fabs(row[i]));
    }
    const float s = amax / 127.0f;
    scales[size_t(r)] = s;
    for (int64_t i = 0; i < k; ++i) {
      float v = s > 0.0f ? std::nearbyint(row[i] / s) : 0.0f;
      v = std::fmin(127.0f, std::fmax(-127.0f, v));
      q[size_t(r * k + i)] = int8_t(v);
    }
  }
  return Status::Ok();
}

Status pack_w4(std::span<const float> w, int64_t n, int64_t k, int64_t group, std::span<uint8_t> packed,
               std::span<uint16_t> scales_f16) {
  DSE_RETURN_IF_ERROR(check_matrix("pack_w4", w, n, k));
  if (group < 2 || group % 2 != 0 || k % group != 0) {
    return Status(StatusCode::invalid_argument,
                  "pack_w4: group size " + std::to_string(group) + " must be even, >= 2 and divide K = " +
                      std::to_string(k) + "; use a group size such as 32, 64 or 128 that divides K");
  }
  const int64_t groups = k / group;
  if (int64_t(packed.size()) != n * k / 2) return size_error("pack_w4", "the packed span", packed.size(), n * k / 2);
  if (int64_t(scales_f16.size()) != n * groups) return size_error("pack_w4", "the scale span", scales_f16.size(), n * groups);
  for (int64_t r = 0; r < n; ++r) {
    const float* row = w.data() + r * k;
    for (int64_t g = 0; g < groups; ++g) {
      const float* gw = row + g * group;
      float m = 0.0f;
      for (int64_t i = 0; i < group; ++i) {
        if (!std::isfinite(gw[i])) return non_finite("pack_w4", r, g * group + i, k);
        if (std::fabs(gw[i]) > std::fabs(m)) m = gw[i];
      }
      const uint16_t s16 = f32_to_f16(m / -8.0f);
      const float s = f16_to_f32(s16);
      if (!std::isfinite(s)) {
        return Status(StatusCode::invalid_argument,
                      "pack_w4: row " + std::to_string(r) + " group " + std::to_string(g) + " has |w| up to " +
                          std::to_string(std::fabs(m)) + ", whose scale overflows f16 (|w| must stay below "
                          "524032); keep this tensor in f16/bf16 or int8");
      }
      scales_f16[size_t(r * groups + g)] = s16;
      for (int64_t i = 0; i < group; i += 2) {
        uint8_t nib[2];
        for (int j = 0; j < 2; ++j) {
          float v = s != 0.0f ? std::nearbyint(gw[i + j] / s) : 0.0f;
          v = std::fmin(7.0f, std::fmax(-8.0f, v));
          nib[j] = uint8_t(int(v) + 8);
        }
        packed[size_t((r * k + g * group + i) / 2)] = uint8_t(nib[0] | (nib[1] << 4));
      }
    }
  }
  return Status::Ok();
}

Status pack_fp8(std::span<const float> w, int64_t n, int64_t k, std::span<uint8_t> q, std::span<float> scales) {
  DSE_RETURN_IF_ERROR(check_matrix("pack_fp8", w, n, k));
  if (int64_t(q.size()) != n * k) return size_error("pack_fp8", "the quantized span", q.size(), n * k);
  if (int64_t(scales.size()) != n) return size_error("pack_fp8", "the scale span", scales.size(), n);
  for (int64_t r = 0; r < n; ++r) {
    const float* row = w.data() + r * k;
    float amax = 0.0f;
    for (int64_t i = 0; i < k; ++i) {
      if (!std::isfinite(row[i])) return non_finite("pack_fp8", r, i, k);
      amax = std::fmax(amax, std::fabs(row[i]));
    }
    const float s = amax / 448.0f;
    scales[size_t(r)] = s;
    for (int64_t i = 0; i < k; ++i) q[size_t(r * k + i)] = s > 0.0f ? f32_to_fp8e4m3(row[i] / s) : uint8_t(0);
  }
  return Status::Ok();
}

}  // namespace dse::cpu
