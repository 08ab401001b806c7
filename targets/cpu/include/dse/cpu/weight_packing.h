// Quantization packers: f32 weight rows -> the stored formats of docs/KERNELS.md. The compiler
// packs with these and the CPU kernels read with weight_rows.h, so the two cannot disagree.
#pragma once

#include <cstdint>
#include <span>

#include "dse/cpu/weight_format.h"
#include "dse/status.h"

namespace dse::cpu {

// All packers take a row-major f32 matrix w [n, k] and write into caller-owned spans; they
// allocate nothing and keep no state, so the compiler can run them on many tensors at once.
// An MoE weight [E, N, K] is packed as one [E*N, K] matrix: its scales come out as [E, N] or
// [E, N, K/g], the layout KERNELS.md asks for.
// Errors (invalid_argument): a span of the wrong size, a bad group, a non-finite weight, a
// scale that f16 cannot hold (w4). Nothing is promised about the outputs after an error.

// Bytes of the weight slot for a matrix [n, k] in format f (-1 for an I4 matrix with odd k).
int64_t packed_weight_bytes(WeightFormat f, int64_t n, int64_t k);
// Elements of the scale slot: 0 for f32/f16/bf16, n for w8/fp8, n * (k / group) for w4.
int64_t packed_scale_count(WeightFormat f, int64_t n, int64_t k, int64_t group);

// F16 / BF16 storage, round to nearest even (dtype_convert.h).
Status pack_f16(std::span<const float> w, std::span<uint16_t> out);
Status pack_bf16(std::span<const float> w, std::span<uint16_t> out);

// w8: per output row, scale = max|w| / 127 (F32), q = clamp(round_half_even(w / scale), -127, 127).
// An all-zero row gets scale 0 and q = 0.
Status pack_w8(std::span<const float> w, int64_t n, int64_t k, std::span<int8_t> q, std::span<float> scales);

// w4: per group of `group` consecutive k in a row, the weight m of largest magnitude (first one
// on ties) sets scale = m / -8, rounded to F16; q = clamp(round_half_even(w / scale), -8, 7);
// stored as q + 8, two per byte, low nibble = even k. Value = (nibble - 8) * scale.
//
// Why m / -8 and not max|w| / 7: the extreme weight lands exactly on -8, which is representable
// exactly, so all 16 levels are used and the step is max|w|/8 instead of max|w|/7 (12.5% less
// rounding error for every other weight). The price: a weight of the opposite sign with
// |w| > 7.5/8 max|w| clips to +7 (error <= max|w|/8). On Gaussian-like weights this loses far
// less than the finer step gains; weight_packing_test measures it. (Same choice as llama.cpp's
// Q4_0.) Scales are therefore signed. A group whose scale underflows F16 (max|w| < ~5e-7)
// becomes all zeros. Needs k % group == 0 and an even group >= 2.
Status pack_w4(std::span<const float> w, int64_t n, int64_t k, int64_t group, std::span<uint8_t> packed,
               std::span<uint16_t> scales_f16);

// fp8: per output row, scale = max|w| / 448 (F32), q = e4m3(w / scale) (round to nearest even,
// saturating at +-448). An all-zero row gets scale 0 and q = 0.
Status pack_fp8(std::span<const float> w, int64_t n, int64_t k, std::span<uint8_t> q, std::span<float> scales);

}  // namespace dse::cpu
