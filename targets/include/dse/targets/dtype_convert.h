// Scalar conversions between f32 and the storage types of weights and caches (f16, bf16,
// fp8 e4m3). Shared by the importer (quantization), the CPU kernels and the tests, so that all
// three agree bit for bit. Round-to-nearest-even everywhere, as PyTorch does.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace dse {

inline uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline float f32_from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

inline float bf16_to_f32(uint16_t h) { return f32_from_bits(uint32_t(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    if (man == 0) return f32_from_bits(sign);
    // Subnormal: value = man * 2^-24.
    float v = std::ldexp(float(man), -24);
    return sign ? -v : v;
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));
  return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t f32_to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u);    // NaN
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);   // rounds to >= 65520: inf
  if (abs < 0x38800000u) {                                   // below 2^-14: subnormal or zero
    // Scale so that the f16 subnormal unit (2^-24) becomes 1, then round to nearest even.
    float v = f32_from_bits(abs) * 16777216.0f;
    float r = std::nearbyint(v);  // default rounding mode: nearest even
    return uint16_t(sign | uint16_t(r));
  }
  uint32_t mant = abs & 0x7fffffu;
  uint32_t exp = (abs >> 23) - 112;
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h += 1;  // may carry into the exponent: fine
  return uint16_t(sign | h);
}

// fp8 e4m3 (the "fn" variant: no infinities, 0x7f/0xff are NaN, max finite 448).
inline float fp8e4m3_to_f32(uint8_t v) {
  uint32_t sign = v & 0x80u;
  uint32_t exp = (v >> 3) & 0xfu;
  uint32_t man = v & 0x7u;
  float r;
  if (exp == 0xf && man == 0x7) return std::nanf("");
  if (exp == 0) r = std::ldexp(float(man), -9);  // subnormal: man * 2^-6 / 8
  else r = std::ldexp(1.0f + float(man) / 8.0f, int(exp) - 7);
  return sign ? -r : r;
}

// Saturates to +-448 (as torch's float8_e4m3fn conversion of finite values does not; callers
// scale first so that |x| <= 448).
inline uint8_t f32_to_fp8e4m3(float f) {
  if (std::isnan(f)) return 0x7f;
  uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  float a = std::fabs(f);
  if (a == 0.0f) return sign;  // frexp(0) has no binade
  if (a >= 448.0f) return uint8_t(sign | 0x7e);
  // Find the nearest representable value by rounding in the value's binade.
  int e;
  std::frexp(a, &e);            // a = m * 2^e, m in [0.5, 1)
  int exp = e - 1 + 7;          // biased exponent of a
  if (exp < 1) {                // subnormal range: unit 2^-9
    float q = std::nearbyint(a * 512.0f);
    if (q >= 8.0f) return uint8_t(sign | 0x08);  // rounded up to the smallest normal
    return uint8_t(sign | uint8_t(q));
  }
  float unit = std::ldexp(1.0f, exp - 7 - 3);   // spacing of values in this binade
  float q = std::nearbyint(a / unit);           // in [8, 16]
  if (q >= 16.0f) { q = 8.0f; exp += 1; }
  if (exp > 15 || (exp == 15 && q > 14.0f)) return uint8_t(sign | 0x7e);
  return uint8_t(sign | uint8_t(exp << 3) | (uint8_t(q) - 8));
}

}  // namespace dse
