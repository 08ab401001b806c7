// The weight formats of docs/KERNELS.md (`<w>` suffix of a kernel name) and their byte sizes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

enum class WeightFormat : uint8_t { f32, f16, bf16, w8, w4, fp8 };

inline constexpr WeightFormat kAllWeightFormats[] = {WeightFormat::f32, WeightFormat::f16,
                                                     WeightFormat::bf16, WeightFormat::w8,
                                                     WeightFormat::w4, WeightFormat::fp8};

// Kernel-name suffix: "f32", "f16", "bf16", "w8", "w4", "fp8".
constexpr std::string_view weight_format_name(WeightFormat f) {
  switch (f) {
    case WeightFormat::f32: return "f32";
    case WeightFormat::f16: return "f16";
    case WeightFormat::bf16: return "bf16";
    case WeightFormat::w8: return "w8";
    case WeightFormat::w4: return "w4";
    case WeightFormat::fp8: return "fp8";
  }
  return "?";
}

// The format whose suffix follows `prefix` in a kernel name ("matmul_f32_" + "w4"), if there is one.
constexpr std::optional<WeightFormat> weight_format_after(std::string_view name, std::string_view prefix) {
  if (name.substr(0, prefix.size()) != prefix) return std::nullopt;
  for (WeightFormat f : kAllWeightFormats)
    if (name.substr(prefix.size()) == weight_format_name(f)) return f;
  return std::nullopt;
}

// DType of the weight slot.
constexpr DType weight_dtype(WeightFormat f) {
  switch (f) {
    case WeightFormat::f32: return DType::f32;
    case WeightFormat::f16: return DType::f16;
    case WeightFormat::bf16: return DType::bf16;
    case WeightFormat::w8: return DType::i8;
    case WeightFormat::w4: return DType::i4;
    case WeightFormat::fp8: return DType::fp8e4m3;
  }
  return DType::f32;
}

// Whether a scale slot follows the weight slot, and its dtype (F32 per row, or F16 per group).
constexpr bool has_scale_slot(WeightFormat f) {
  return f == WeightFormat::w8 || f == WeightFormat::w4 || f == WeightFormat::fp8;
}
constexpr DType scale_dtype(WeightFormat f) { return f == WeightFormat::w4 ? DType::f16 : DType::f32; }

// Storage of `count` elements of `dtype`; I4 packs two per byte (count must be even). Returns -1
// for a negative count or an odd I4 count.
constexpr int64_t dtype_bytes(DType dtype, int64_t count) {
  if (count < 0) return -1;
  switch (dtype) {
    case DType::f32: case DType::i32: return count * 4;
    case DType::f16: case DType::bf16: return count * 2;
    case DType::i8: case DType::u8: case DType::fp8e4m3: return count;
    case DType::i4: return count % 2 == 0 ? count / 2 : -1;
  }
  return -1;
}

constexpr std::string_view dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f16: return "F16";
    case DType::bf16: return "BF16";
    case DType::i8: return "I8";
    case DType::i4: return "I4";
    case DType::fp8e4m3: return "FP8E4M3";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
  }
  return "?";
}

}  // namespace dse::cpu
