// run_both: the CPU oracle and the GPU kernel on the same operands, with a device-resident step.
#include "gpu_test_support.h"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <cuda_runtime.h>

#include "dse/cpu/kernel_registry.h"
#include "dse/cpu/weight_packing.h"
#include "dse/gpu/kernel_registry.h"
#include "dse/targets/dtype_convert.h"
#include "dse/targets/kv_quant.h"

namespace dse::gpu::test {
namespace {

int64_t element_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Operand make(DType dtype, std::vector<int64_t> shape) {
  Operand o;
  o.dtype = dtype;
  o.shape = std::move(shape);
  o.bytes.assign(size_t(cpu::dtype_bytes(dtype, element_count(o.shape))), 0);
  return o;
}

TensorView view_of(const Operand& o, void* data) {
  TensorView v;
  v.data = data;
  v.bytes = o.bytes.size();
  v.dtype = o.dtype;
  v.rank = int32_t(o.shape.size());
  for (size_t i = 0; i < o.shape.size(); ++i) v.shape[i] = o.shape[i];
  v.group_size = o.group;
  return v;
}

#define CUDA_REQUIRE(expr)                                                             \
  do {                                                                                 \
    cudaError_t e_ = (expr);                                                           \
    INFO(#expr << ": " << cudaGetErrorString(e_));                                     \
    REQUIRE(e_ == cudaSuccess);                                                        \
  } while (0)

}  // namespace

TensorView view_2d(void* data, DType dtype, int64_t rows, int64_t cols, int32_t group) {
  TensorView v;
  v.data = data;
  v.dtype = dtype;
  v.rank = 2;
  v.shape[0] = rows;
  v.shape[1] = cols;
  v.bytes = uint64_t(cpu::dtype_bytes(dtype, rows * cols));
  v.group_size = group;
  return v;
}

bool gpu_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

Outcome run_both(const Case& c) {
  Outcome out;
  const cpu::CpuKernelInfo* cpu_info = cpu::find_cpu_kernel(c.kernel);
  const GpuKernelInfo* gpu_info = find_gpu_kernel(c.kernel);
  INFO("kernel " << c.kernel);
  REQUIRE(cpu_info != nullptr);
  REQUIRE(gpu_info != nullptr);

  // CPU side: private copies of every operand (aliases share the copy of their target).
  out.cpu.resize(c.ops.size());
  std::vector<TensorView> cpu_views(c.ops.size());
  for (size_t i = 0; i < c.ops.size(); ++i) {
    if (c.ops[i].alias_of < 0) out.cpu[i] = c.ops[i].bytes;
  }
  for (size_t i = 0; i < c.ops.size(); ++i) {
    const int src = c.ops[i].alias_of < 0 ? int(i) : c.ops[i].alias_of;
    cpu_views[i] = view_of(c.ops[i], out.cpu[size_t(src)].data());
  }
  KernelCall call = make_kernel_call(cpu_views.data(), cpu_views.size(), c.iparams.data(), c.iparams.size(),
                                     c.fparams.data(), c.fparams.size());
  const Status valid = cpu::validate_cpu_call(*cpu_info, call);
  INFO("validate_cpu_call: " << valid.message());
  REQUIRE(valid.ok());
  out.cpu_status = cpu_info->fn(call, c.step, nullptr);
  for (size_t i = 0; i < c.ops.size(); ++i)
    if (c.ops[i].alias_of >= 0) out.cpu[i] = out.cpu[size_t(c.ops[i].alias_of)];
  // Without a GPU the call has still been validated and run on the CPU: setup errors show here.
  if (!gpu_available()) SKIP("no GPU (the call was validated and run on the CPU only)");

  // GPU side.
  std::vector<void*> dev(c.ops.size(), nullptr);
  std::vector<TensorView> gpu_views(c.ops.size());
  for (size_t i = 0; i < c.ops.size(); ++i) {
    if (c.ops[i].alias_of >= 0) {
      dev[i] = dev[size_t(c.ops[i].alias_of)];
    } else {
      CUDA_REQUIRE(cudaMalloc(&dev[i], c.ops[i].bytes.size() + 16));
      CUDA_REQUIRE(cudaMemcpy(dev[i], c.ops[i].bytes.data(), c.ops[i].bytes.size(), cudaMemcpyHostToDevice));
    }
    gpu_views[i] = view_of(c.ops[i], dev[i]);
  }
  call.operands = gpu_views.data();
  StepInfo* d_step = nullptr;
  GpuErrorRecord* d_error = nullptr;
  CUDA_REQUIRE(cudaMalloc(&d_step, sizeof(StepInfo)));
  CUDA_REQUIRE(cudaMalloc(&d_error, sizeof(GpuErrorRecord)));
  CUDA_REQUIRE(cudaMemcpy(d_step, &c.step, sizeof(StepInfo), cudaMemcpyHostToDevice));
  CUDA_REQUIRE(cudaMemset(d_error, 0, sizeof(GpuErrorRecord)));
  GpuStep step;
  step.d_step = d_step;
  step.d_error = d_error;
  step.slots = c.step.slots;  // the launchers size grids per slot, as the backend's session does
  step.one_sequence = c.one_sequence;
  step.workspace_bytes = gpu_info->workspace_bytes(call);
  if (step.workspace_bytes > 0) {
    CUDA_REQUIRE(cudaMalloc(&step.workspace, step.workspace_bytes));
    // Garbage in the scratch must not matter.
    CUDA_REQUIRE(cudaMemset(step.workspace, 0x5a, step.workspace_bytes));
  }
  cudaStream_t stream = nullptr;
  CUDA_REQUIRE(cudaStreamCreate(&stream));
  const Status launched = gpu_info->launch(call, step, stream);
  INFO("GPU launch: " << launched.message());
  REQUIRE(launched.ok());
  CUDA_REQUIRE(cudaStreamSynchronize(stream));
  GpuErrorRecord rec;
  CUDA_REQUIRE(cudaMemcpy(&rec, d_error, sizeof(rec), cudaMemcpyDeviceToHost));
  out.gpu_status = gpu_error_status(rec);
  out.gpu.resize(c.ops.size());
  for (size_t i = 0; i < c.ops.size(); ++i) {
    out.gpu[i].resize(c.ops[i].bytes.size());
    CUDA_REQUIRE(cudaMemcpy(out.gpu[i].data(), dev[i], c.ops[i].bytes.size(), cudaMemcpyDeviceToHost));
  }
  cudaStreamDestroy(stream);
  for (size_t i = 0; i < c.ops.size(); ++i)
    if (c.ops[i].alias_of < 0) cudaFree(dev[i]);
  cudaFree(d_step);
  cudaFree(d_error);
  if (step.workspace) cudaFree(step.workspace);
  return out;
}

Operand f32_tensor(std::vector<int64_t> shape, std::mt19937& rng, float lo, float hi) {
  Operand o = make(DType::f32, std::move(shape));
  std::uniform_real_distribution<float> dist(lo, hi);
  for (float& v : o.as<float>()) v = dist(rng);
  return o;
}

Operand sentinel_f32(std::vector<int64_t> shape) {
  Operand o = make(DType::f32, std::move(shape));
  for (float& v : o.as<float>()) v = f32_from_bits(0x7fc0beefu);
  return o;
}

Operand i32_tensor(std::vector<int64_t> shape, std::vector<int32_t> values) {
  Operand o = make(DType::i32, std::move(shape));
  REQUIRE(values.size() * 4 == o.bytes.size());
  std::memcpy(o.bytes.data(), values.data(), o.bytes.size());
  return o;
}

Operand cache_tensor(DType dtype, std::vector<int64_t> shape, std::mt19937& rng) {
  Operand o = make(dtype, std::move(shape));
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  if (dtype == DType::f16) {
    for (uint16_t& v : o.as<uint16_t>()) v = f32_to_f16(dist(rng));
  } else {
    for (float& v : o.as<float>()) v = dist(rng);
  }
  return o;
}

std::vector<Operand> any_cache(DType dtype, std::vector<int64_t> shape, int64_t groups, std::mt19937& rng,
                               float amp) {
  if (!is_quantized_cache(dtype)) {
    Operand o = cache_tensor(dtype, shape, rng);
    if (dtype == DType::f32) {
      for (float& v : o.as<float>()) v *= amp;
    }
    return {o};
  }
  const int64_t rows = shape[0], width = shape[1], gw = width / groups;
  Operand cache = make(dtype, std::move(shape));
  Operand scales = make(DType::f32, {rows, groups});
  std::uniform_real_distribution<float> dist(-amp, amp);
  std::vector<float> v(static_cast<size_t>(gw));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      for (float& x : v) x = dist(rng);
      scales.as<float>()[size_t(r * groups + g)] =
          kv_quantize_group(v.data(), gw, dtype, cache.bytes.data() + r * width + g * gw);
    }
  }
  return {cache, scales};
}

Operand dense_weight(DType dtype, std::vector<int64_t> shape, std::mt19937& rng, float amp) {
  Operand o = make(dtype, std::move(shape));
  std::uniform_real_distribution<float> dist(-amp, amp);
  if (dtype == DType::f16) {
    for (uint16_t& v : o.as<uint16_t>()) v = f32_to_f16(dist(rng));
  } else if (dtype == DType::bf16) {
    for (uint16_t& v : o.as<uint16_t>()) v = f32_to_bf16(dist(rng));
  } else {
    for (float& v : o.as<float>()) v = dist(rng);
  }
  return o;
}

std::vector<Operand> packed_weight(cpu::WeightFormat f, std::vector<int64_t> shape, int32_t group, std::mt19937& rng,
                                   float amp) {
  using cpu::WeightFormat;
  const int64_t k = shape.back();
  const int64_t n = element_count(shape) / k;  // [E, N, K] packs as [E*N, K]
  std::vector<float> w(size_t(n * k));
  std::normal_distribution<float> dist(0.0f, amp);
  for (float& v : w) v = dist(rng);
  std::vector<Operand> ops;
  Operand weight = make(cpu::weight_dtype(f), shape);
  weight.group = f == WeightFormat::w4 ? group : 0;
  std::vector<int64_t> sshape(shape.begin(), shape.end() - 1);
  if (f == WeightFormat::w4) sshape.push_back(k / group);
  Operand scales = make(cpu::scale_dtype(f), sshape);
  Status s;
  switch (f) {
    case WeightFormat::f32: std::memcpy(weight.bytes.data(), w.data(), weight.bytes.size()); break;
    case WeightFormat::f16: s = cpu::pack_f16(w, weight.as<uint16_t>()); break;
    case WeightFormat::bf16: s = cpu::pack_bf16(w, weight.as<uint16_t>()); break;
    case WeightFormat::w8: s = cpu::pack_w8(w, n, k, weight.as<int8_t>(), scales.as<float>()); break;
    case WeightFormat::w4: s = cpu::pack_w4(w, n, k, group, weight.as<uint8_t>(), scales.as<uint16_t>()); break;
    case WeightFormat::fp8: s = cpu::pack_fp8(w, n, k, weight.as<uint8_t>(), scales.as<float>()); break;
  }
  INFO("packing: " << s.message());
  REQUIRE(s.ok());
  ops.push_back(std::move(weight));
  if (cpu::has_scale_slot(f)) ops.push_back(std::move(scales));
  return ops;
}

int64_t compare_f32(const Outcome& o, int index, double rtol, double atol) {
  const auto& c = o.cpu[size_t(index)];
  const auto& g = o.gpu[size_t(index)];
  REQUIRE(c.size() == g.size());
  const size_t n = c.size() / 4;
  std::vector<float> cv(n), gv(n);
  std::memcpy(cv.data(), c.data(), n * 4);
  std::memcpy(gv.data(), g.data(), n * 4);
  double ss = 0.0;
  size_t finite = 0;
  for (float v : cv)
    if (std::isfinite(v)) { ss += double(v) * v; ++finite; }
  const double rms = finite ? std::sqrt(ss / double(finite)) : 0.0;
  int64_t bad = 0;
  double worst = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const bool cn = std::isnan(cv[i]), gn = std::isnan(gv[i]);
    double err = 0.0;
    bool ok;
    if (cn || gn) {
      ok = cn && gn;
    } else {
      err = std::fabs(double(gv[i]) - double(cv[i]));
      ok = err <= rtol * (std::fabs(double(cv[i])) + rms) + atol;
    }
    worst = std::max(worst, err);
    if (!ok) {
      if (bad < 5) UNSCOPED_INFO("operand " << index << " element " << i << ": gpu " << gv[i] << " cpu " << cv[i]);
      ++bad;
    }
  }
  UNSCOPED_INFO("operand " << index << ": " << bad << " of " << n << " outside tolerance; worst abs error " << worst
                           << ", rms " << rms);
  return bad;
}

void check_refused_alike(const Outcome& o, StatusCode code) {
  CHECK(o.cpu_status.code() == code);
  CHECK(o.gpu_status.code() == code);
  CHECK(o.gpu_status.message() == o.cpu_status.message());
}

bool same_bytes(const Outcome& o, int index) { return o.cpu[size_t(index)] == o.gpu[size_t(index)]; }

}  // namespace dse::gpu::test
