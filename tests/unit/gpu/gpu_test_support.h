// Runs one kernel call on the CPU backend (the oracle, dse::cpu) and on the GPU backend
// (dse::gpu) with the same operands, and compares what each left in its operands.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "dse/cpu/weight_format.h"
#include "dse/gpu/gpu_launch.h"
#include "dse/status.h"
#include "dse/targets/kernel_abi.h"

namespace dse::gpu::test {

// One operand: its bytes on the host (inputs filled by the test, outputs pre-filled with a
// sentinel so that rows a kernel must not write are compared too).
struct Operand {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  int32_t group = 0;
  std::vector<uint8_t> bytes;
  int alias_of = -1;  // >= 0: the same buffer as that (earlier) operand, for in-place calls

  template <typename T>
  std::span<T> as() { return {reinterpret_cast<T*>(bytes.data()), bytes.size() / sizeof(T)}; }
};

struct Case {
  std::string kernel;
  std::vector<Operand> ops;
  std::vector<int64_t> iparams;
  std::vector<float> fparams;
  StepInfo step;
  bool one_sequence = false;  // GpuStep::one_sequence of the GPU launch
};

// What each backend left behind: the bytes of every operand and the run-time status.
struct Outcome {
  std::vector<std::vector<uint8_t>> cpu, gpu;
  Status cpu_status, gpu_status;
};

// True when a GPU is present.
bool gpu_available();

// Sets an environment variable for a scope: unset again by the destructor, also when a check
// fails or run_both SKIPs (without a GPU) in between, so no setting leaks into later tests.
struct EnvScope {
  const char* name;
  EnvScope(const char* n, const char* value) : name(n) { setenv(n, value, 1); }
  ~EnvScope() { unsetenv(name); }
  EnvScope(const EnvScope&) = delete;
  EnvScope& operator=(const EnvScope&) = delete;
};

// Checks the call against the CPU registry's validator first (so a test cannot pass with a call
// the loader would reject), runs the CPU kernel, then the GPU kernel. FAILs the test on a setup
// error; SKIPs it after the CPU run when there is no GPU.
Outcome run_both(const Case& c);

// Operand builders. `bytes_for` sizes the storage; `fill_*` write deterministic random values.
Operand f32_tensor(std::vector<int64_t> shape, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f);
Operand sentinel_f32(std::vector<int64_t> shape);  // filled with a recognisable NaN pattern

// A rank-2 view [rows, cols] of `dtype` at `data` (any memory), as the runtime resolves operands;
// for tests that build programs of several calls on addresses of their own.
TensorView view_2d(void* data, DType dtype, int64_t rows, int64_t cols, int32_t group = 0);
Operand i32_tensor(std::vector<int64_t> shape, std::vector<int32_t> values);
Operand cache_tensor(DType dtype, std::vector<int64_t> shape, std::mt19937& rng);  // F32 or F16, random
// A cache [S, W] of any cache dtype from random values in [-amp, amp], followed, for I8 and
// FP8E4M3, by its F32 [S, groups] scale operand (quantized as kv_store does; kv_quant.h).
std::vector<Operand> any_cache(DType dtype, std::vector<int64_t> shape, int64_t groups, std::mt19937& rng,
                               float amp = 1.0f);
Operand dense_weight(DType dtype, std::vector<int64_t> shape, std::mt19937& rng, float amp = 1.0f);  // F32/F16/BF16
// A weight matrix [rows, k] (or [E, n, k]) in format f plus its scale operand (absent for
// f32/f16/bf16): packed from random f32 values with the CPU packers.
std::vector<Operand> packed_weight(cpu::WeightFormat f, std::vector<int64_t> shape, int32_t group, std::mt19937& rng,
                                   float amp = 1.0f);

// Compares operand `index` of both backends as f32: |gpu - cpu| <= rtol * (|cpu| + rms(cpu)) + atol
// element by element (NaN must match NaN, so untouched sentinel rows compare equal). Returns
// the number of mismatches and reports the first few with INFO-style output through UNSCOPED_INFO.
int64_t compare_f32(const Outcome& o, int index, double rtol, double atol = 0.0);
// Byte-exact comparison (ids, f16 caches).
bool same_bytes(const Outcome& o, int index);

// Both backends refused the call with `code`, the GPU in the CPU's words.
void check_refused_alike(const Outcome& o, StatusCode code);

}  // namespace dse::gpu::test
