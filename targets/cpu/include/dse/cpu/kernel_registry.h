// The CPU kernel registry: every kernel of docs/KERNELS.md as data (name, function, operand
// signature, parameters), and validate_cpu_call, which the loader runs on every instruction of an
// untrusted artifact before anything executes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "dse/cpu/weight_format.h"
#include "dse/status.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// What an operand is for; decides how strictly its byte size is checked (weights, scales and
// parameters must match their shape exactly; activations and caches may be larger).
enum class OperandRole : uint8_t {
  input,    // activation read by the kernel ([T, ...] rows)
  output,   // activation written by the kernel
  inout,    // activation rotated in place (rope)
  weight,   // weight matrix or table in the kernel's weight format
  scale,    // quantization scales of the preceding weight
  param,    // small constant tensor: norm weight, rope table, bias
  cache,    // KV / latent cache, [S, ...], or the F32 [S, G] scales of a quantized one
};

constexpr uint16_t dtype_bit(DType d) { return uint16_t(1u << unsigned(d)); }
inline constexpr uint16_t kF32 = dtype_bit(DType::f32);
inline constexpr uint16_t kI32 = dtype_bit(DType::i32);
// KV caches: F32, F16, or quantized (I8, FP8E4M3) with a scale slot right after them.
inline constexpr uint16_t kCacheDTypes = dtype_bit(DType::f32) | dtype_bit(DType::f16) |
                                         dtype_bit(DType::i8) | dtype_bit(DType::fp8e4m3);
// "Any float weight": dense weights that MLA reads without quantization.
inline constexpr uint16_t kFloatWeightDTypes = dtype_bit(DType::f32) | dtype_bit(DType::f16) | dtype_bit(DType::bf16);

// OperandSpec::present_if_iparam value of a cache's scale slot: present iff the operand bound
// just before it (the cache) is quantized (I8 or FP8E4M3, dse/targets/kv_quant.h).
inline constexpr int8_t kPresentIfQuantizedCache = -2;

struct OperandSpec {
  const char* name;
  OperandRole role;
  uint16_t dtypes;                 // bit mask of accepted DTypes (dtype_bit)
  int8_t rank;
  int8_t present_if_iparam = -1;   // -1: always present; i >= 0: present iff iparams[i] != 0;
                                   // kPresentIfQuantizedCache: see there
};

struct IParamSpec {
  const char* name;
  int64_t min;  // inclusive
  int64_t max;  // inclusive
};

struct FParamSpec {
  const char* name;
  float min;  // inclusive; the value must also be finite
  float max;
};

struct CpuKernelInfo;
// Kernel-specific static checks (shapes agree, bounds of the stack buffers); `ops[i]` is the
// operand bound to operands[i] of the info, or null for an absent optional operand.
using ShapeCheckFn = Status (*)(const CpuKernelInfo& info, const KernelCall& call, const TensorView* const* ops);

inline constexpr int kMaxOperandSpecs = 8;

struct CpuKernelInfo {
  std::string_view name;
  CpuKernelFn fn;
  std::span<const OperandSpec> operands;  // in call order, optional ones included
  std::span<const IParamSpec> iparams;
  std::span<const FParamSpec> fparams;
  WeightFormat weight_format;             // the `<w>` of the name; f32 for kernels without one
  ShapeCheckFn check_shapes;
};

// Every CPU kernel, in a fixed order (static storage, valid for the program's lifetime).
std::span<const CpuKernelInfo> cpu_kernels();

// The kernel named `name`, or null if the CPU backend has none.
const CpuKernelInfo* find_cpu_kernel(std::string_view name);

// Whether operand spec `spec` is present in `call` when `index` operands are bound before it:
// per its flag iparam, or (kPresentIfQuantizedCache) iff call.operands[index - 1] is an I8 or
// FP8E4M3 cache. The iparam counts must already match the kernel's (validate_cpu_call checks).
// Whoever walks a call's operands against the signature uses this, so all agree.
bool operand_present(const OperandSpec& spec, const KernelCall& call, uint32_t index);

// Checks a resolved call against the kernel's signature: parameter counts and ranges, operand
// count (optional operands included as the iparams and the cache dtypes say), dtypes, ranks, byte sizes, that shapes
// agree with each other and with the iparams, the kernels' stack-buffer bounds, and forbidden
// aliasing. invalid_argument with a message naming the kernel and the operand otherwise. A call
// that passes cannot make the kernel read or write outside its operands; only run-time values
// (token ids, positions, expert ids) are left to the kernel.
Status validate_cpu_call(const CpuKernelInfo& info, const KernelCall& call);

}  // namespace dse::cpu
