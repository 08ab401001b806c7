// Conversion tables for f16 and fp8 weights, built once from dtype_convert.h.
#include "weight_rows.h"

namespace dse::cpu {
namespace {
struct F16Table {
  float v[65536];
  F16Table() {
    for (uint32_t i = 0; i < 65536; ++i) v[i] = f16_to_f32(uint16_t(i));
  }
};
struct Fp8Table {
  float v[256];
  Fp8Table() {
    for (uint32_t i = 0; i < 256; ++i) v[i] = fp8e4m3_to_f32(uint8_t(i));
  }
};
}  // namespace

const float* f16_table() {
  static const F16Table table;  // static storage; thread-safe one-time initialisation
  return table.v;
}

const float* fp8_table() {
  static const Fp8Table table;
  return table.v;
}

}  // namespace dse::cpu
