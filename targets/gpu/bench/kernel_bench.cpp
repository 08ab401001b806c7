// dse-gpu-kernel-bench: per kernel and shape, the median time of one launch (CUDA events, after
// warm-up) and the achieved bandwidth, as GB/s and as a fraction of a measured device-to-device
// copy. Bytes counted are those the kernel must move at least: every weight byte it uses, the
// KV-cache rows up to the position, the activations read and written.
//
// Then whole decode steps (7B, 1.5B, V2-Lite shapes: every layer with its own weights, and the
// lm_head) captured as one CUDA graph each, timed per replay. Usage: dse-gpu-kernel-bench [--filter SUBSTRING] [--iters N] [--csv]
// (--filter model: only the whole decode steps)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>
#include <random>
#include <string>
#include <vector>

#include "dse/cpu/weight_format.h"
#include "dse/gpu/kernel_registry.h"
#include "dse/targets/dtype_convert.h"

namespace {

using dse::DType;
using dse::KernelCall;
using dse::StepInfo;
using dse::TensorView;
using dse::cpu::WeightFormat;

bool cuda_ok(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return true;
  std::fprintf(stderr, "error: %s: %s\n", what, cudaGetErrorString(e));
  return false;
}

// A device tensor filled with valid values of its dtype.
struct DevTensor {
  TensorView view;
  void* ptr = nullptr;
};

std::mt19937 g_rng(1);

// A buffer larger than any L2 (H100: 50 MiB, H200: 60 MiB), written before each timed launch.
void* g_flush = nullptr;
constexpr size_t g_flush_bytes = size_t(256) << 20;

// Fills `bytes` of device memory from a 16 MiB host pattern of valid values.
void fill(void* dst, uint64_t bytes, DType dtype) {
  static std::vector<uint8_t> pattern[8];
  std::vector<uint8_t>& p = pattern[int(dtype)];
  if (p.empty()) {
    p.resize(16u << 20);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::uniform_int_distribution<int> byte(0, 255);
    switch (dtype) {
      case DType::f32:
        for (size_t i = 0; i + 4 <= p.size(); i += 4) { float v = dist(g_rng); std::memcpy(&p[i], &v, 4); }
        break;
      case DType::f16:
        for (size_t i = 0; i + 2 <= p.size(); i += 2) { uint16_t v = dse::f32_to_f16(dist(g_rng)); std::memcpy(&p[i], &v, 2); }
        break;
      case DType::bf16:
        for (size_t i = 0; i + 2 <= p.size(); i += 2) { uint16_t v = dse::f32_to_bf16(dist(g_rng)); std::memcpy(&p[i], &v, 2); }
        break;
      case DType::fp8e4m3:
        for (auto& b : p) b = dse::f32_to_fp8e4m3(dist(g_rng) * 400.0f);
        break;
      default:
        for (auto& b : p) b = uint8_t(byte(g_rng));
    }
  }
  for (uint64_t off = 0; off < bytes; off += p.size()) {
    const uint64_t n = std::min<uint64_t>(p.size(), bytes - off);
    cudaMemcpy(static_cast<uint8_t*>(dst) + off, p.data(), n, cudaMemcpyHostToDevice);
  }
}

DevTensor tensor(DType dtype, std::vector<int64_t> shape, int32_t group = 0) {
  DevTensor t;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  t.view.dtype = dtype;
  t.view.rank = int32_t(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) t.view.shape[i] = shape[i];
  t.view.group_size = group;
  t.view.bytes = uint64_t(dse::cpu::dtype_bytes(dtype, n));
  if (!cuda_ok(cudaMalloc(&t.ptr, t.view.bytes), "cudaMalloc")) std::exit(1);
  t.view.data = t.ptr;
  fill(t.ptr, t.view.bytes, dtype);
  return t;
}

DevTensor ids_tensor(int64_t tokens, int64_t top_k, int64_t experts) {
  DevTensor t = tensor(DType::i32, {tokens, top_k});
  std::vector<int32_t> ids;
  std::vector<int32_t> all(static_cast<size_t>(experts));
  for (int64_t i = 0; i < experts; ++i) all[size_t(i)] = int32_t(i);
  for (int64_t i = 0; i < tokens; ++i) {
    std::shuffle(all.begin(), all.end(), g_rng);
    ids.insert(ids.end(), all.begin(), all.begin() + top_k);
  }
  cudaMemcpy(t.ptr, ids.data(), ids.size() * 4, cudaMemcpyHostToDevice);
  return t;
}

struct BenchCase {
  std::string kernel, shape;
  std::vector<DevTensor> ops;
  std::vector<int64_t> iparams;
  std::vector<float> fparams;
  StepInfo step;
  double bytes = 0;  // minimum traffic of one call
  double flops = 0;  // prefill GEMMs: 2 T N K, reported as TFLOP/s instead of the copy fraction
};

struct Options {
  std::string filter;
  int iters = 50;
  bool csv = false;
};

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

// Device-to-device copy bandwidth, bytes read plus written per second (as PERF-NOTES counts it).
double copy_bandwidth() {
  const size_t bytes = size_t(1) << 30;
  void *a, *b;
  if (!cuda_ok(cudaMalloc(&a, bytes), "cudaMalloc") || !cuda_ok(cudaMalloc(&b, bytes), "cudaMalloc")) std::exit(1);
  cudaMemset(a, 1, bytes);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms;
  for (int i = 0; i < 23; ++i) {
    cudaEventRecord(e0);
    cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float t = 0;
    cudaEventElapsedTime(&t, e0, e1);
    if (i >= 3) ms.push_back(t);
  }
  cudaFree(a);
  cudaFree(b);
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  return 2.0 * double(bytes) / (median(ms) * 1e-3);
}

void run(BenchCase& c, const Options& opt, double copy_bw) {
  if (!opt.filter.empty() && (c.kernel + " " + c.shape).find(opt.filter) == std::string::npos) return;
  const dse::gpu::GpuKernelInfo* info = dse::gpu::find_gpu_kernel(c.kernel);
  if (!info) {
    std::fprintf(stderr, "no GPU kernel %s\n", c.kernel.c_str());
    return;
  }
  std::vector<TensorView> views;
  for (auto& t : c.ops) views.push_back(t.view);
  const KernelCall call = make_kernel_call(views.data(), views.size(), c.iparams.data(), c.iparams.size(),
                                           c.fparams.data(), c.fparams.size());
  dse::gpu::GpuStep step;
  StepInfo* d_step;
  dse::gpu::GpuErrorRecord* d_err;
  cudaMalloc(&d_step, sizeof(StepInfo));
  cudaMalloc(&d_err, sizeof(dse::gpu::GpuErrorRecord));
  cudaMemcpy(d_step, &c.step, sizeof(StepInfo), cudaMemcpyHostToDevice);
  cudaMemset(d_err, 0, sizeof(dse::gpu::GpuErrorRecord));
  step.d_step = d_step;
  step.d_error = d_err;
  step.workspace_bytes = info->workspace_bytes(call);
  if (step.workspace_bytes) cudaMalloc(&step.workspace, step.workspace_bytes);
  cudaStream_t stream;
  cudaStreamCreate(&stream);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  std::vector<float> ms;
  bool ok = true;
  for (int i = 0; i < 10 + opt.iters && ok; ++i) {
    // Evict the previous launch's data from L2 (weights are read once per token in a real
    // decode), and keep the GPU busy while the host enqueues, so the launch latency is not timed.
    cudaMemsetAsync(g_flush, i & 0xff, g_flush_bytes, stream);
    cudaEventRecord(e0, stream);
    const dse::Status s = info->launch(call, step, stream);
    cudaEventRecord(e1, stream);
    if (!s.ok()) {
      std::fprintf(stderr, "%s %s: %s\n", c.kernel.c_str(), c.shape.c_str(), s.message().c_str());
      ok = false;
      break;
    }
    ok = cuda_ok(cudaEventSynchronize(e1), c.kernel.c_str());
    float t = 0;
    cudaEventElapsedTime(&t, e0, e1);
    if (i >= 10) ms.push_back(t);
  }
  dse::gpu::GpuErrorRecord rec;
  cudaMemcpy(&rec, d_err, sizeof(rec), cudaMemcpyDeviceToHost);
  if (rec.code != 0) std::fprintf(stderr, "%s: %s\n", c.kernel.c_str(), dse::gpu::gpu_error_status(rec).message().c_str());
  if (ok && !ms.empty()) {
    const double t_us = median(ms) * 1e3;
    const double gbs = c.bytes / (t_us * 1e-6) / 1e9;
    if (c.flops > 0) {
      std::printf(opt.csv ? "%s,%s,%.2f,%.1f,%.1f TFLOP/s\n" : "%-20s %-44s %10.2f %10.1f %6.1f TFLOP/s\n",
                  c.kernel.c_str(), c.shape.c_str(), t_us, gbs, c.flops / (t_us * 1e-6) / 1e12);
    } else if (opt.csv) {
      std::printf("%s,%s,%.2f,%.1f,%.3f\n", c.kernel.c_str(), c.shape.c_str(), t_us, gbs, gbs * 1e9 / copy_bw);
    } else {
      std::printf("%-20s %-44s %10.2f %10.1f %8.1f%%\n", c.kernel.c_str(), c.shape.c_str(), t_us, gbs,
                  100.0 * gbs * 1e9 / copy_bw);
    }
    std::fflush(stdout);
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  cudaStreamDestroy(stream);
  cudaFree(d_step);
  cudaFree(d_err);
  if (step.workspace) cudaFree(step.workspace);
}

void release(BenchCase& c) {
  for (auto& t : c.ops) cudaFree(t.ptr);
  c.ops.clear();
}

double weight_bytes(WeightFormat f, int64_t n, int64_t k, int64_t group) {
  double b = double(dse::cpu::dtype_bytes(dse::cpu::weight_dtype(f), n * k));
  if (f == WeightFormat::w4) b += double(n * (k / group)) * 2;
  if (f == WeightFormat::w8 || f == WeightFormat::fp8) b += double(n) * 4;
  return b;
}

void add_weight(BenchCase& c, WeightFormat f, std::vector<int64_t> shape, int64_t group) {
  const int64_t k = shape.back();
  c.ops.push_back(tensor(dse::cpu::weight_dtype(f), shape, f == WeightFormat::w4 ? int32_t(group) : 0));
  if (dse::cpu::has_scale_slot(f)) {
    std::vector<int64_t> s(shape.begin(), shape.end() - 1);
    if (f == WeightFormat::w4) s.push_back(k / group);
    c.ops.push_back(tensor(dse::cpu::scale_dtype(f), s));
  }
}

std::string fmt_name(WeightFormat f, int64_t group) {
  std::string s(dse::cpu::weight_format_name(f));
  if (f == WeightFormat::w4) s += "g" + std::to_string(group);
  return s;
}

void bench_matmul(const Options& opt, double bw, WeightFormat f, int64_t group, int64_t tokens, int64_t n, int64_t k,
                  const char* what) {
  BenchCase c;
  c.kernel = "matmul_f32_" + std::string(dse::cpu::weight_format_name(f));
  c.shape = fmt_name(f, group) + " T" + std::to_string(tokens) + " N" + std::to_string(n) + " K" + std::to_string(k) +
            " (" + what + ")";
  if (!opt.filter.empty() && (c.kernel + " " + c.shape).find(opt.filter) == std::string::npos) return;
  c.ops.push_back(tensor(DType::f32, {tokens, k}));
  add_weight(c, f, {n, k}, group);
  c.ops.push_back(tensor(DType::f32, {tokens, n}));
  c.iparams = {0};
  c.step = {tokens, 0};
  c.bytes = weight_bytes(f, n, k, group) + 4.0 * double(tokens) * double(n + k);
  if (tokens >= 16) c.flops = 2.0 * double(tokens) * double(n) * double(k);
  run(c, opt, bw);
  release(c);
}

void bench_attention(const Options& opt, double bw, int64_t hq, int64_t hkv, int64_t d, int64_t s, int64_t pos,
                     DType cache, const char* what) {
  BenchCase c;
  c.kernel = "attention_f32";
  c.shape = "Hq" + std::to_string(hq) + " Hkv" + std::to_string(hkv) + " D" + std::to_string(d) + " S" +
            std::to_string(s) + " pos" + std::to_string(pos) + (cache == DType::f16 ? " f16" : " f32") + " (" + what + ")";
  if (!opt.filter.empty() && (c.kernel + " " + c.shape).find(opt.filter) == std::string::npos) return;
  c.ops.push_back(tensor(DType::f32, {1, hq * d}));
  c.ops.push_back(tensor(cache, {s, hkv * d}));
  c.ops.push_back(tensor(cache, {s, hkv * d}));
  c.ops.push_back(tensor(DType::f32, {1, hq * d}));
  c.iparams = {hq, hkv, d, d};
  c.fparams = {float(1.0 / std::sqrt(double(d)))};
  c.step = {1, pos};
  const double elem = cache == DType::f16 ? 2.0 : 4.0;
  c.bytes = 2.0 * double(pos + 1) * double(hkv * d) * elem + 8.0 * double(hq * d);
  run(c, opt, bw);
  release(c);
}

void bench_mla(const Options& opt, double bw, int64_t h, int64_t s, int64_t pos, const char* what) {
  const int64_t dn = 128, dr = 64, cr = 512, dv = 128;
  BenchCase c;
  c.kernel = "mla_attention_f32";
  c.shape = "H" + std::to_string(h) + " C512 dr64 S" + std::to_string(s) + " pos" + std::to_string(pos) +
            " f16 cache, bf16 W (" + what + ")";
  if (!opt.filter.empty() && (c.kernel + " " + c.shape).find(opt.filter) == std::string::npos) return;
  c.ops.push_back(tensor(DType::f32, {1, h * (dn + dr)}));
  c.ops.push_back(tensor(DType::f16, {s, cr}));
  c.ops.push_back(tensor(DType::f16, {s, dr}));
  c.ops.push_back(tensor(DType::bf16, {h, dn, cr}));
  c.ops.push_back(tensor(DType::bf16, {h, dv, cr}));
  c.ops.push_back(tensor(DType::f32, {1, h * dv}));
  c.iparams = {h, dn, dr, cr, dv};
  c.fparams = {0.07f};
  c.step = {1, pos};
  c.bytes = double(pos + 1) * double(cr + dr) * 2.0 + 2.0 * double(h * (dn + dv) * cr) + 4.0 * double(h * (dn + dr + dv));
  run(c, opt, bw);
  release(c);
}

void bench_moe_ffn(const Options& opt, double bw, WeightFormat f, int64_t group, int64_t e, int64_t top_k,
                   int64_t inter, int64_t hidden, const char* what) {
  BenchCase c;
  c.kernel = "moe_ffn_f32_" + std::string(dse::cpu::weight_format_name(f));
  c.shape = fmt_name(f, group) + " E" + std::to_string(e) + " k" + std::to_string(top_k) + " I" + std::to_string(inter) +
            " H" + std::to_string(hidden) + " (" + what + ")";
  if (!opt.filter.empty() && (c.kernel + " " + c.shape).find(opt.filter) == std::string::npos) return;
  c.ops.push_back(tensor(DType::f32, {1, hidden}));
  c.ops.push_back(ids_tensor(1, top_k, e));
  c.ops.push_back(tensor(DType::f32, {1, top_k}));
  add_weight(c, f, {e, 2 * inter, hidden}, group);
  add_weight(c, f, {e, hidden, inter}, group);
  c.ops.push_back(tensor(DType::f32, {1, hidden}));
  c.iparams = {e, top_k, inter, hidden};
  c.step = {1, 0};
  c.bytes = double(top_k) * (weight_bytes(f, 2 * inter, hidden, group) + weight_bytes(f, hidden, inter, group)) +
            8.0 * double(hidden);
  run(c, opt, bw);
  release(c);
}

void bench_small(const Options& opt, double bw) {
  {
    BenchCase c;
    c.kernel = "rms_norm_f32";
    c.shape = "T1 H4096";
    c.ops = {tensor(DType::f32, {1, 4096}), tensor(DType::f32, {4096}), tensor(DType::f32, {1, 4096})};
    c.fparams = {1e-6f};
    c.step = {1, 0};
    c.bytes = 3 * 4096 * 4.0;
    run(c, opt, bw);
    release(c);
  }
  {
    BenchCase c;
    c.kernel = "add_f32";
    c.shape = "T1 W4096";
    c.ops = {tensor(DType::f32, {1, 4096}), tensor(DType::f32, {1, 4096}), tensor(DType::f32, {1, 4096})};
    c.step = {1, 0};
    c.bytes = 3 * 4096 * 4.0;
    run(c, opt, bw);
    release(c);
  }
  {
    BenchCase c;
    c.kernel = "silu_mul_f32";
    c.shape = "T1 I11008";
    c.ops = {tensor(DType::f32, {1, 2 * 11008}), tensor(DType::f32, {1, 11008})};
    c.step = {1, 0};
    c.bytes = 3 * 11008 * 4.0;
    run(c, opt, bw);
    release(c);
  }
  {
    BenchCase c;
    c.kernel = "rope_f32";
    c.shape = "T1 32 heads x 128";
    c.ops = {tensor(DType::f32, {1, 32 * 128}), tensor(DType::f32, {4096, 128})};
    c.iparams = {32, 128, 0, 128, 0};
    c.step = {1, 100};
    c.bytes = 2 * 4096 * 4.0 + 128 * 4.0;
    run(c, opt, bw);
    release(c);
  }
  {
    BenchCase c;
    c.kernel = "kv_store";
    c.shape = "T1 W4096 f16 cache";
    c.ops = {tensor(DType::f32, {1, 4096}), tensor(DType::f16, {4096, 4096})};
    c.step = {1, 100};
    c.bytes = 4096 * 6.0;
    run(c, opt, bw);
    release(c);
  }
  {
    BenchCase c;
    c.kernel = "embed_f32_f16";
    c.shape = "T1 V102400 H4096";
    c.ops = {ids_tensor(1, 1, 102400), tensor(DType::f16, {102400, 4096}), tensor(DType::f32, {1, 4096})};
    c.step = {1, 0};
    c.bytes = 4096 * 6.0;
    run(c, opt, bw);
    release(c);
  }
  for (int v3 = 0; v3 < 2; ++v3) {
    BenchCase c;
    c.kernel = "moe_route_f32";
    const int64_t e = v3 ? 256 : 64, k = v3 ? 8 : 6;
    c.shape = v3 ? "T1 E256 k8 noaux_tc sigmoid (V3)" : "T1 E64 k6 greedy softmax (V2-Lite)";
    c.ops.push_back(tensor(DType::f32, {1, e}));
    if (v3) c.ops.push_back(tensor(DType::f32, {e}));
    c.ops.push_back(tensor(DType::i32, {1, k}));
    c.ops.push_back(tensor(DType::f32, {1, k}));
    c.iparams = v3 ? std::vector<int64_t>{8, 8, 4, 1, 2, 1, 1} : std::vector<int64_t>{6, 1, 1, 0, 0, 0, 0};
    c.fparams = {v3 ? 2.5f : 1.0f};
    c.step = {1, 0};
    c.bytes = double(e) * 4.0 * (v3 ? 2 : 1) + double(k) * 8.0;
    run(c, opt, bw);
    release(c);
  }
}


// ---- whole decode steps captured as one CUDA graph ----------------------------------------
// Decoder layers of real models at batch 1, every kernel launched through the registry in the
// order docs/KERNELS.md lowers them, captured once and replayed: what a token costs including
// the gaps between kernels (no fusion yet, so this is the unfused baseline).

struct LayerCall {
  std::string kernel;
  std::vector<TensorView> ops;
  std::vector<int64_t> ip;
  std::vector<float> fp;
};

struct LayerProgram {
  std::string name;
  std::vector<DevTensor> owned;
  std::vector<LayerCall> calls;
  double weight_bytes = 0;  // weights read per layer (the roofline's bytes), KV cache excluded
  double cache_bytes = 0;   // KV / latent cache read at the benchmarked position
  int layers = 0;

  TensorView t(DType d, std::vector<int64_t> shape, int32_t group = 0) {
    owned.push_back(tensor(d, std::move(shape), group));
    return owned.back().view;
  }
  // A weight in format f (+ its scales) counted in weight_bytes.
  std::vector<TensorView> w(WeightFormat f, int64_t group, std::vector<int64_t> shape) {
    const int64_t k = shape.back();
    int64_t n = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) n *= shape[i];
    std::vector<TensorView> v{t(dse::cpu::weight_dtype(f), shape, f == WeightFormat::w4 ? int32_t(group) : 0)};
    if (dse::cpu::has_scale_slot(f)) {
      std::vector<int64_t> s(shape.begin(), shape.end() - 1);
      if (f == WeightFormat::w4) s.push_back(k / group);
      v.push_back(t(dse::cpu::scale_dtype(f), s));
    }
    if (shape.size() == 2) weight_bytes += weight_bytes_of(f, n, k, group);
    return v;
  }
  static double weight_bytes_of(WeightFormat f, int64_t n, int64_t k, int64_t group) {
    double b = double(dse::cpu::dtype_bytes(dse::cpu::weight_dtype(f), n * k));
    if (f == WeightFormat::w4) b += double(n * (k / group)) * 2;
    if (f == WeightFormat::w8 || f == WeightFormat::fp8) b += double(n) * 4;
    return b;
  }
  void matmul(WeightFormat f, int64_t group, TensorView x, int64_t n, TensorView out, bool bias = false) {
    std::vector<TensorView> ops{x};
    for (auto& v : w(f, group, {n, x.shape[1]})) ops.push_back(v);
    if (bias) ops.push_back(t(DType::f32, {n}));
    ops.push_back(out);
    calls.push_back({"matmul_f32_" + std::string(dse::cpu::weight_format_name(f)), ops, {bias ? 1 : 0}, {}});
  }
  void add(std::string k, std::vector<TensorView> ops, std::vector<int64_t> ip = {}, std::vector<float> fp = {}) {
    calls.push_back({std::move(k), std::move(ops), std::move(ip), std::move(fp)});
  }
};

// Llama / Qwen2 layer: separate q, k, v matmuls (KERNELS.md has no strided views for a fused qkv).
LayerProgram llama_layer(const char* name, int layers, int64_t hidden, int64_t heads, int64_t kv_heads,
                         int64_t inter, bool qkv_bias, int64_t pos, WeightFormat f, int64_t group) {
  LayerProgram p;
  p.name = name;
  p.layers = layers;
  const int64_t d = 128, S = 4096;
  TensorView x = p.t(DType::f32, {1, hidden}), h = p.t(DType::f32, {1, hidden});
  TensorView q = p.t(DType::f32, {1, heads * d}), k = p.t(DType::f32, {1, kv_heads * d}),
             v = p.t(DType::f32, {1, kv_heads * d}), att = p.t(DType::f32, {1, heads * d});
  TensorView kc = p.t(DType::f16, {S, kv_heads * d}), vc = p.t(DType::f16, {S, kv_heads * d});
  TensorView rope = p.t(DType::f32, {S, d});
  TensorView gu = p.t(DType::f32, {1, 2 * inter}), act = p.t(DType::f32, {1, inter});
  p.add("rms_norm_f32", {x, p.t(DType::f32, {hidden}), h}, {}, {1e-6f});
  p.matmul(f, group, h, heads * d, q, qkv_bias);
  p.matmul(f, group, h, kv_heads * d, k, qkv_bias);
  p.matmul(f, group, h, kv_heads * d, v, qkv_bias);
  p.add("rope_f32", {q, rope}, {heads, d, 0, d, 0});
  p.add("rope_f32", {k, rope}, {kv_heads, d, 0, d, 0});
  p.add("kv_store", {k, kc});
  p.add("kv_store", {v, vc});
  p.add("attention_f32", {q, kc, vc, att}, {heads, kv_heads, d, d}, {0.088f});
  p.matmul(f, group, att, hidden, h);
  p.add("add_f32", {x, h, x});
  p.add("rms_norm_f32", {x, p.t(DType::f32, {hidden}), h}, {}, {1e-6f});
  p.matmul(f, group, h, 2 * inter, gu);
  p.add("silu_mul_f32", {gu, act});
  p.matmul(f, group, act, hidden, h);
  p.add("add_f32", {x, h, x});
  p.cache_bytes = 2.0 * double(pos + 1) * double(kv_heads * d) * 2.0;
  return p;
}

// DeepSeek-V2-Lite MoE layer: MLA (no q LoRA) + 6 of 64 routed experts + 2 shared experts.
LayerProgram v2_lite_layer(int64_t pos, WeightFormat f, int64_t group) {
  LayerProgram p;
  p.name = "DeepSeek-V2-Lite MoE layer";
  p.layers = 27;
  const int64_t hidden = 2048, H = 16, dn = 128, dr = 64, C = 512, dv = 128, S = 4096;
  const int64_t E = 64, top_k = 6, inter = 1408, shared_inter = 2 * 1408;
  TensorView x = p.t(DType::f32, {1, hidden}), h = p.t(DType::f32, {1, hidden});
  TensorView q = p.t(DType::f32, {1, H * (dn + dr)}), lat = p.t(DType::f32, {1, C}), pe = p.t(DType::f32, {1, dr});
  TensorView lc = p.t(DType::f16, {S, C}), pc = p.t(DType::f16, {S, dr}), rope = p.t(DType::f32, {S, dr});
  TensorView att = p.t(DType::f32, {1, H * dv});
  TensorView logits = p.t(DType::f32, {1, E}), ids = p.t(DType::i32, {1, top_k}), rw = p.t(DType::f32, {1, top_k});
  TensorView moe = p.t(DType::f32, {1, hidden}), sh = p.t(DType::f32, {1, hidden});
  TensorView gu = p.t(DType::f32, {1, 2 * shared_inter}), act = p.t(DType::f32, {1, shared_inter});
  // Valid expert ids for the first replay's moe_ffn (moe_route overwrites them with valid ones).
  cudaMemset(ids.data, 0, size_t(ids.bytes));
  p.add("rms_norm_f32", {x, p.t(DType::f32, {hidden}), h}, {}, {1e-6f});
  p.matmul(f, group, h, H * (dn + dr), q);
  p.add("rope_f32", {q, rope}, {H, dn + dr, dn, dr, 1});
  p.matmul(f, group, h, C, lat);
  p.add("rms_norm_f32", {lat, p.t(DType::f32, {C}), lat}, {}, {1e-6f});
  p.add("kv_store", {lat, lc});
  p.matmul(f, group, h, dr, pe);
  p.add("rope_f32", {pe, rope}, {1, dr, 0, dr, 1});
  p.add("kv_store", {pe, pc});
  TensorView w_uk = p.t(DType::bf16, {H, dn, C}), w_uv = p.t(DType::bf16, {H, dv, C});
  p.weight_bytes += 2.0 * double(H * (dn + dv) * C);
  p.add("mla_attention_f32", {q, lc, pc, w_uk, w_uv, att}, {H, dn, dr, C, dv}, {0.072f});
  p.matmul(f, group, att, hidden, h);
  p.add("add_f32", {x, h, x});
  p.add("rms_norm_f32", {x, p.t(DType::f32, {hidden}), h}, {}, {1e-6f});
  p.matmul(WeightFormat::f32, 0, h, E, logits);  // the router stays f32
  p.add("moe_route_f32", {logits, ids, rw}, {top_k, 1, 1, 0, 0, 0, 0}, {1.0f});
  {
    std::vector<TensorView> ops{h, ids, rw};
    for (auto& v : p.w(f, group, {E, 2 * inter, hidden})) ops.push_back(v);
    for (auto& v : p.w(f, group, {E, hidden, inter})) ops.push_back(v);
    ops.push_back(moe);
    p.add("moe_ffn_f32_" + std::string(dse::cpu::weight_format_name(f)), ops, {E, top_k, inter, hidden});
    p.weight_bytes += double(top_k) * (LayerProgram::weight_bytes_of(f, 2 * inter, hidden, group) +
                                       LayerProgram::weight_bytes_of(f, hidden, inter, group));
  }
  p.matmul(f, group, h, 2 * shared_inter, gu);
  p.add("silu_mul_f32", {gu, act});
  p.matmul(f, group, act, hidden, sh);
  p.add("add_f32", {moe, sh, moe});
  p.add("add_f32", {x, moe, x});
  p.cache_bytes = double(pos + 1) * double(C + dr) * 2.0;
  return p;
}

// Appends `from` (its buffers and calls) to `into`.
void append(LayerProgram& into, LayerProgram&& from) {
  for (auto& t : from.owned) into.owned.push_back(t);
  for (auto& c : from.calls) into.calls.push_back(std::move(c));
  into.weight_bytes += from.weight_bytes;
  into.cache_bytes += from.cache_bytes;
  from.owned.clear();
}

// Captures every call of `prog` into one graph and returns the median time of one replay (us),
// or a negative value on error.
double time_program(LayerProgram& prog, const Options& opt, StepInfo* d_step, dse::gpu::GpuErrorRecord* d_err) {
  std::vector<KernelCall> kc(prog.calls.size());
  std::vector<const dse::gpu::GpuKernelInfo*> infos(prog.calls.size());
  uint64_t ws_bytes = 0;
  for (size_t i = 0; i < prog.calls.size(); ++i) {
    LayerCall& c = prog.calls[i];
    kc[i].operands = c.ops.data();
    kc[i].n_operands = uint32_t(c.ops.size());
    kc[i].iparams = c.ip.data();
    kc[i].n_iparams = uint32_t(c.ip.size());
    kc[i].fparams = c.fp.data();
    kc[i].n_fparams = uint32_t(c.fp.size());
    infos[i] = dse::gpu::find_gpu_kernel(c.kernel);
    if (!infos[i]) {
      std::fprintf(stderr, "no GPU kernel %s\n", c.kernel.c_str());
      return -1;
    }
    ws_bytes = std::max(ws_bytes, infos[i]->workspace_bytes(kc[i]));
  }
  void* ws = nullptr;
  if (ws_bytes) cudaMalloc(&ws, ws_bytes);  // one scratch region shared by all calls, as planned
  dse::gpu::GpuStep gs;
  gs.d_step = d_step;
  gs.d_error = d_err;
  gs.workspace = ws;
  gs.workspace_bytes = ws_bytes;
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  double result = -1;
  // Launched as the runtime launches decode: with programmatic dependent launch where available.
  const dse::gpu::OverlappedLaunches overlap;
  bool ok = cuda_ok(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "begin capture");
  for (size_t i = 0; ok && i < prog.calls.size(); ++i) {
    const dse::Status st = infos[i]->launch(kc[i], gs, stream);
    if (!st.ok()) {
      std::fprintf(stderr, "%s: %s\n", prog.calls[i].kernel.c_str(), st.message().c_str());
      ok = false;
    }
  }
  ok = cuda_ok(cudaStreamEndCapture(stream, &graph), "end capture") && ok;
  ok = ok && cuda_ok(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  if (ok) {
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    std::vector<float> ms;
    const int samples = std::min(opt.iters, 20);
    for (int i = 0; i < 3 + samples && ok; ++i) {
      cudaMemsetAsync(g_flush, i & 0xff, g_flush_bytes, stream);
      cudaEventRecord(e0, stream);
      cudaGraphLaunch(exec, stream);
      cudaEventRecord(e1, stream);
      ok = cuda_ok(cudaEventSynchronize(e1), "graph replay");
      float t = 0;
      cudaEventElapsedTime(&t, e0, e1);
      if (i >= 3) ms.push_back(t);
    }
    if (ok) result = median(ms) * 1e3;
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cudaGraphExecDestroy(exec);
  }
  if (graph) cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  if (ws) cudaFree(ws);
  return result;
}

// A whole decode step of a model: `layers` distinct layers (own weights and caches, as in the
// real model, so nothing is served from L2 across layers) + final norm + lm_head, one graph.
template <typename MakeLayer>
void bench_model(const char* name, int layers, MakeLayer make_layer, int64_t hidden, int64_t vocab,
                 WeightFormat head_format, int64_t group, int64_t pos, const Options& opt, double copy_bw) {
  if (!opt.filter.empty() && opt.filter != "model" && std::string(name).find(opt.filter) == std::string::npos) return;
  StepInfo* d_step;
  dse::gpu::GpuErrorRecord* d_err;
  cudaMalloc(&d_step, sizeof(StepInfo));
  cudaMalloc(&d_err, sizeof(dse::gpu::GpuErrorRecord));
  const StepInfo step{1, pos};
  cudaMemcpy(d_step, &step, sizeof(step), cudaMemcpyHostToDevice);
  cudaMemset(d_err, 0, sizeof(dse::gpu::GpuErrorRecord));
  LayerProgram model, one_layer, head;
  one_layer = make_layer();
  for (int l = 1; l < layers; ++l) append(model, make_layer());
  {
    TensorView x = head.t(DType::f32, {1, hidden}), h = head.t(DType::f32, {1, hidden});
    head.add("rms_norm_f32", {x, head.t(DType::f32, {hidden}), h}, {}, {1e-6f});
    head.matmul(head_format, group, h, vocab, head.t(DType::f32, {1, vocab}));
  }
  const double t_layer = time_program(one_layer, opt, d_step, d_err);
  const double t_head = time_program(head, opt, d_step, d_err);
  const size_t launches_per_layer = one_layer.calls.size();
  const double layer_bytes = one_layer.weight_bytes + one_layer.cache_bytes;
  append(model, std::move(one_layer));
  append(model, std::move(head));
  const double t_token = time_program(model, opt, d_step, d_err);
  dse::gpu::GpuErrorRecord rec;
  cudaMemcpy(&rec, d_err, sizeof(rec), cudaMemcpyDeviceToHost);
  if (rec.code) std::fprintf(stderr, "%s: %s\n", name, dse::gpu::gpu_error_status(rec).message().c_str());
  if (t_layer > 0 && t_head > 0 && t_token > 0) {
    const double token_bytes = model.weight_bytes + model.cache_bytes;
    const double layer_gbs = layer_bytes / (t_layer * 1e-6) / 1e9;
    const double token_gbs = token_bytes / (t_token * 1e-6) / 1e9;
    std::printf("%s, context position %lld, w4 g128, f16 KV:\n", name, (long long)pos);
    std::printf("  one layer  %3zu launches %9.2f us %8.1f GB/s (%5.1f%% of copy) [%.1f MB]\n", launches_per_layer,
                t_layer, layer_gbs, 100.0 * layer_gbs * 1e9 / copy_bw, layer_bytes / 1e6);
    std::printf("  lm_head %-12s      %9.2f us\n", fmt_name(head_format, group).c_str(), t_head);
    std::printf("  decode step (%d layers + head, one graph): %.1f us = %.0f tok/s; %.1f GB/s = %.1f%% of copy; "
                "roofline %.0f tok/s at %.3f GB/token\n",
                layers, t_token, 1e6 / t_token, token_gbs, 100.0 * token_gbs * 1e9 / copy_bw, copy_bw / token_bytes,
                token_bytes / 1e9);
    std::fflush(stdout);
  }
  for (auto& t : model.owned) cudaFree(t.ptr);
  cudaFree(d_step);
  cudaFree(d_err);
}

void bench_models(const Options& opt, double bw) {
  std::printf("# whole decode steps at batch 1 (--filter model: only these); lm_head w4 g128 too\n");
  const int64_t pos = 511;
  bench_model("deepseek-llm-7b (Llama, 30 layers)", 30,
              [&] { return llama_layer("7b", 30, 4096, 32, 32, 11008, false, pos, WeightFormat::w4, 128); }, 4096,
              102400, WeightFormat::w4, 128, pos, opt, bw);
  bench_model("R1-Distill-Qwen-1.5B (Qwen2, 28 layers)", 28,
              [&] { return llama_layer("1.5b", 28, 1536, 12, 2, 8960, true, pos, WeightFormat::w4, 128); }, 1536,
              151936, WeightFormat::w4, 128, pos, opt, bw);
  bench_model("DeepSeek-V2-Lite (MLA + MoE, 27 layers, all MoE)", 27,
              [&] { return v2_lite_layer(pos, WeightFormat::w4, 128); }, 2048, 102400, WeightFormat::w4, 128, pos,
              opt, bw);
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--filter") && i + 1 < argc) opt.filter = argv[++i];
    else if (!std::strcmp(argv[i], "--iters") && i + 1 < argc) opt.iters = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--csv")) opt.csv = true;
    else {
      std::fprintf(stderr, "usage: %s [--filter SUBSTRING] [--iters N] [--csv]\n", argv[0]);
      return 2;
    }
  }
  int dev = 0;
  cudaDeviceProp prop{};
  if (!cuda_ok(cudaGetDevice(&dev), "cudaGetDevice") || !cuda_ok(cudaGetDeviceProperties(&prop, dev), "props")) return 1;
  const double bw = copy_bandwidth();
  if (!cuda_ok(cudaMalloc(&g_flush, g_flush_bytes), "cudaMalloc flush buffer")) return 1;
  std::printf("# device: %s (sm_%d%d, %d SMs, L2 %d MiB)\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
              prop.l2CacheSize >> 20);
  std::printf("# device-to-device copy: %.0f GB/s (bytes read + written, 1 GiB, median of 20)\n", bw / 1e9);
  std::printf("# one launch per sample after a 256 MiB L2-evicting memset, CUDA events, median of %d after 10 "
              "warm-up launches\n", opt.iters);
  if (opt.csv) std::printf("kernel,shape,us,GB/s,fraction_of_copy\n");
  else std::printf("%-20s %-44s %10s %10s %9s\n", "kernel", "shape", "us", "GB/s", "of copy");

  // Decode GEMVs: DeepSeek-LLM-7B / Llama shapes and R1-Distill-Qwen-1.5B shapes.
  struct MM { int64_t n, k; const char* what; };
  const MM shapes[] = {{4096, 4096, "7B q/o"},       {22016, 4096, "7B gate_up"}, {4096, 11008, "7B down"},
                       {1536, 1536, "1.5B q/o"},     {17920, 1536, "1.5B gate_up"}, {1536, 8960, "1.5B down"},
                       {102400, 4096, "7B lm_head"}};
  const std::pair<WeightFormat, int64_t> formats[] = {{WeightFormat::w4, 128}, {WeightFormat::w4, 32},
                                                      {WeightFormat::w8, 0},   {WeightFormat::fp8, 0},
                                                      {WeightFormat::f16, 0},  {WeightFormat::bf16, 0},
                                                      {WeightFormat::f32, 0}};
  for (const auto& [f, g] : formats)
    for (const MM& s : shapes) {
      if (f == WeightFormat::f32 && s.n == 102400) continue;
      bench_matmul(opt, bw, f, g, 1, s.n, s.k, s.what);
    }
  // Small prefill chunks through the GEMV (weights re-read per 4 tokens).
  bench_matmul(opt, bw, WeightFormat::w4, 128, 4, 4096, 4096, "7B q/o, 4 tokens");
  // Prefill chunks of 512 tokens (dsc's default chunk) on the tensor-core GEMM.
  const std::pair<WeightFormat, int64_t> prefill_formats[] = {
      {WeightFormat::w4, 128}, {WeightFormat::w8, 0}, {WeightFormat::f16, 0}, {WeightFormat::bf16, 0}};
  for (const auto& [f, g] : prefill_formats)
    for (const MM& s : shapes) {
      if (s.n == 102400) continue;  // prefill runs the lm_head on the last row only
      bench_matmul(opt, bw, f, g, 512, s.n, s.k, s.what);
    }
  bench_matmul(opt, bw, WeightFormat::w4, 128, 64, 4096, 4096, "7B q/o, 64 tokens");

  bench_attention(opt, bw, 32, 32, 128, 4096, 511, DType::f16, "7B MHA");
  bench_attention(opt, bw, 32, 32, 128, 4096, 4095, DType::f16, "7B MHA");
  bench_attention(opt, bw, 12, 2, 128, 4096, 4095, DType::f16, "1.5B GQA");
  bench_attention(opt, bw, 32, 8, 128, 32768, 32767, DType::f16, "GQA 8 kv heads, long");
  bench_attention(opt, bw, 32, 32, 128, 4096, 4095, DType::f32, "7B MHA");
  bench_mla(opt, bw, 16, 4096, 511, "V2-Lite");
  bench_mla(opt, bw, 16, 4096, 4095, "V2-Lite");
  bench_moe_ffn(opt, bw, WeightFormat::w4, 128, 64, 6, 1408, 2048, "V2-Lite routed");
  bench_moe_ffn(opt, bw, WeightFormat::w8, 0, 64, 6, 1408, 2048, "V2-Lite routed");
  bench_moe_ffn(opt, bw, WeightFormat::bf16, 0, 64, 6, 1408, 2048, "V2-Lite routed");
  bench_small(opt, bw);
  bench_models(opt, bw);
  return 0;
}
