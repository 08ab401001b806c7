// The operand and parameter counts of every kernel in docs/KERNELS.md, as data, so that dsx.call
// is checked where the compiler makes it rather than by the runtime's loader.
#pragma once

#include <optional>

#include "llvm/ADT/StringRef.h"

namespace dse::dsx {

struct KernelContract {
  llvm::StringLiteral name;  // full name, or a prefix ending in '_' for "<w>" families
  unsigned min_operands, max_operands;
  unsigned iparams, fparams;
};

// The contract of `kernel`, or nullopt for a kernel docs/KERNELS.md does not list.
inline std::optional<KernelContract> find_kernel_contract(llvm::StringRef kernel) {
  static constexpr KernelContract kContracts[] = {
      {"embed_f32_", 3, 3, 0, 0},          // tokens, table, out
      {"rms_norm_f32", 3, 3, 0, 1},        // x, weight, out; eps
      {"matmul_f32_", 3, 5, 1, 0},         // x, W, [scales], [bias], out; has_bias
      {"add_f32", 3, 3, 0, 0},             // a, b, out
      {"silu_mul_f32", 2, 2, 0, 0},        // gate_up, out
      {"rope_f32", 2, 2, 5, 0},            // x, table; heads, head_dim, offset, dim, interleaved
      // A quantized (i8 / fp8e4m3) cache is followed by its f32 scale slot: "(+s)".
      {"kv_store", 2, 3, 0, 0},            // src, cache (+s)
      {"attention_f32", 4, 6, 4, 1},       // q, k_cache (+s), v_cache (+s), out
      {"mla_attention_f32", 6, 8, 5, 1},   // q, latent (+s), pe (+s), w_uk, w_uv, out
      {"moe_route_f32", 3, 4, 7, 1},       // logits, [bias], ids, weights
      {"moe_ffn_f32_", 6, 8, 4, 0},        // x, ids, weights, gate_up (+s), down (+s), out
      {"last_row_f32", 2, 2, 0, 0},        // x, out
  };
  for (const KernelContract& c : kContracts) {
    if (c.name.ends_with("_") ? kernel.starts_with(c.name) : kernel == c.name) return c;
  }
  return std::nullopt;
}

}  // namespace dse::dsx
