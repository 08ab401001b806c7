// Test helpers for the CPU kernels: owned tensors, calls built from them, random data, and the
// tests' own (independent) packing of weights per the docs/KERNELS.md table.
#pragma once

#include <catch2/catch_test_macros.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "dse/cpu/kernel_registry.h"
#include "dse/cpu/thread_pool.h"
#include "dse/targets/dtype_convert.h"
#include "dse/targets/kernel_abi.h"
#include "dse/targets/kv_quant.h"

namespace dse::cpu::test {

// A tensor that owns its bytes.
struct Tensor {
  std::vector<uint8_t> storage;
  TensorView view;

  Tensor() = default;
  Tensor(DType dtype, std::vector<int64_t> shape, int32_t group_size = 0) {
    view.dtype = dtype;
    view.rank = int32_t(shape.size());
    int64_t count = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      view.shape[i] = shape[i];
      count *= shape[i];
    }
    view.group_size = group_size;
    int64_t bytes = dtype_bytes(dtype, count);
    storage.assign(size_t(bytes) + 64, 0);  // slack so that a wrong-size view is still safe to read
    view.bytes = uint64_t(bytes);
    view.data = storage.data();
  }
  Tensor(const Tensor& o) : storage(o.storage), view(o.view) { view.data = storage.data(); }
  Tensor& operator=(const Tensor& o) {
    storage = o.storage;
    view = o.view;
    view.data = storage.data();
    return *this;
  }
  int64_t count() const {
    int64_t c = 1;
    for (int i = 0; i < view.rank; ++i) c *= view.shape[i];
    return c;
  }
  template <typename T> T* as() { return reinterpret_cast<T*>(storage.data()); }
  template <typename T> const T* as() const { return reinterpret_cast<const T*>(storage.data()); }
  float* f32() { return as<float>(); }
  std::vector<float> values() const { return std::vector<float>(as<float>(), as<float>() + count()); }
};

inline Tensor f32_tensor(std::vector<int64_t> shape, const std::vector<float>& v) {
  Tensor t(DType::f32, std::move(shape));
  REQUIRE(int64_t(v.size()) == t.count());
  std::memcpy(t.storage.data(), v.data(), v.size() * 4);
  return t;
}

inline Tensor i32_tensor(std::vector<int64_t> shape, const std::vector<int32_t>& v) {
  Tensor t(DType::i32, std::move(shape));
  REQUIRE(int64_t(v.size()) == t.count());
  std::memcpy(t.storage.data(), v.data(), v.size() * 4);
  return t;
}

// Cache (F32 or F16) holding `v`, and the values it actually holds after rounding.
inline Tensor cache_tensor(DType dtype, std::vector<int64_t> shape, std::vector<float>& v) {
  Tensor t(dtype, std::move(shape));
  for (size_t i = 0; i < v.size(); ++i) {
    if (dtype == DType::f16) {
      t.as<uint16_t>()[i] = f32_to_f16(v[i]);
      v[i] = f16_to_f32(t.as<uint16_t>()[i]);
    } else {
      t.f32()[i] = v[i];
    }
  }
  return t;
}

// A quantized cache (I8 or FP8E4M3) of `v` [S, W] with `groups` groups per row, stored as
// kv_store does (dse/targets/kv_quant.h), and its F32 [S, groups] scale slot in `scales`. `v`
// becomes the values the cache represents, q * scale, decoded here from the bytes.
inline Tensor quant_cache_tensor(DType dtype, std::vector<int64_t> shape, std::vector<float>& v, int64_t groups,
                                 Tensor& scales) {
  const int64_t rows = shape[0], width = shape[1], gw = width / groups;
  Tensor t(dtype, std::move(shape));
  scales = Tensor(DType::f32, {rows, groups});
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t base = r * width + g * gw;
      const float s = kv_quantize_group(v.data() + base, gw, dtype, t.as<uint8_t>() + base);
      scales.f32()[r * groups + g] = s;
      for (int64_t i = base; i < base + gw; ++i) {
        const float q = dtype == DType::i8 ? float(t.as<int8_t>()[i]) : fp8e4m3_to_f32(t.as<uint8_t>()[i]);
        v[size_t(i)] = q * s;
      }
    }
  }
  return t;
}

inline std::vector<float> random_values(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// A call assembled from tensors; keeps its own operand array alive.
struct Call {
  std::vector<TensorView> operands;
  std::vector<int64_t> iparams;
  std::vector<float> fparams;
  KernelCall get() const {
    KernelCall c;
    c.operands = operands.data();
    c.n_operands = uint32_t(operands.size());
    c.iparams = iparams.data();
    c.n_iparams = uint32_t(iparams.size());
    c.fparams = fparams.data();
    c.n_fparams = uint32_t(fparams.size());
    return c;
  }
};

inline const CpuKernelInfo& kernel(const std::string& name) {
  const CpuKernelInfo* info = find_cpu_kernel(name);
  INFO("kernel " << name);
  REQUIRE(info != nullptr);
  return *info;
}

// Validates the call (it must pass) and runs it.
inline Status run_kernel(const std::string& name, const Call& call, StepInfo step, ThreadPool* pool) {
  const CpuKernelInfo& info = kernel(name);
  Status v = validate_cpu_call(info, call.get());
  INFO(v.message());
  REQUIRE(v.ok());
  return info.fn(call.get(), step, pool);
}

inline StepInfo step_of(int64_t n_tokens, int64_t start_pos = 0) {
  StepInfo s;
  s.n_tokens = n_tokens;
  s.start_pos = start_pos;
  return s;
}

// |got - want| <= atol + rtol * scale for every element, reporting the first failure.
inline void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rtol,
                         const std::vector<double>& scale, double atol = 1e-6) {
  REQUIRE(got.size() >= want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double s = scale.empty() ? std::fabs(want[i]) : scale[i];
    if (!(std::fabs(double(got[i]) - want[i]) <= atol + rtol * s)) {
      INFO("element " << i << ": got " << got[i] << ", expected " << want[i] << " (scale " << s << ")");
      CHECK(false);
      return;
    }
  }
  SUCCEED();
}

// ---- the tests' own weight packing (independent of weight_packing.cpp) --------------------

// A weight slot (+ scale slot) built from f32 values and the values the format represents.
struct PackedWeight {
  Tensor weight;
  Tensor scales;       // empty view (rank 0) when the format has none
  bool has_scales = false;
  std::vector<double> dequant;  // what the kernel must compute with, same layout as the input
};

// Packs rows of length k (all leading dims flattened into `rows`) per the KERNELS.md table.
// w4 here uses the plain positive scale max|w| / 7, unlike weight_packing.cpp, so that the
// kernel is checked against a second packer.
inline PackedWeight pack_weight_for_test(WeightFormat f, std::vector<int64_t> shape, const std::vector<float>& w,
                                         int32_t group = 0) {
  PackedWeight p;
  const int64_t k = shape.back();
  const int64_t rows = int64_t(w.size()) / k;
  std::vector<int64_t> scale_shape(shape.begin(), shape.end() - 1);
  p.dequant.resize(w.size());
  switch (f) {
    case WeightFormat::f32:
      p.weight = f32_tensor(shape, w);
      for (size_t i = 0; i < w.size(); ++i) p.dequant[i] = w[i];
      break;
    case WeightFormat::f16:
    case WeightFormat::bf16:
      p.weight = Tensor(f == WeightFormat::f16 ? DType::f16 : DType::bf16, shape);
      for (size_t i = 0; i < w.size(); ++i) {
        uint16_t h = f == WeightFormat::f16 ? f32_to_f16(w[i]) : f32_to_bf16(w[i]);
        p.weight.as<uint16_t>()[i] = h;
        p.dequant[i] = f == WeightFormat::f16 ? f16_to_f32(h) : bf16_to_f32(h);
      }
      break;
    case WeightFormat::w8:
    case WeightFormat::fp8: {
      p.weight = Tensor(f == WeightFormat::w8 ? DType::i8 : DType::fp8e4m3, shape);
      p.scales = Tensor(DType::f32, scale_shape);
      p.has_scales = true;
      for (int64_t r = 0; r < rows; ++r) {
        float amax = 0;
        for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(w[r * k + i]));
        float s = amax / (f == WeightFormat::w8 ? 127.0f : 448.0f);
        p.scales.f32()[r] = s;
        for (int64_t i = 0; i < k; ++i) {
          size_t idx = size_t(r * k + i);
          if (f == WeightFormat::w8) {
            long q = s > 0 ? std::lround(w[idx] / s) : 0;
            q = std::max(-127L, std::min(127L, q));
            p.weight.as<int8_t>()[idx] = int8_t(q);
            p.dequant[idx] = double(q) * double(s);
          } else {
            uint8_t q = s > 0 ? f32_to_fp8e4m3(w[idx] / s) : 0;
            p.weight.as<uint8_t>()[idx] = q;
            p.dequant[idx] = double(fp8e4m3_to_f32(q)) * double(s);
          }
        }
      }
      break;
    }
    case WeightFormat::w4: {
      p.weight = Tensor(DType::i4, shape, group);
      scale_shape.push_back(k / group);
      p.scales = Tensor(DType::f16, scale_shape);
      p.has_scales = true;
      const int64_t groups = k / group;
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t g = 0; g < groups; ++g) {
          float amax = 0;
          for (int64_t i = 0; i < group; ++i) amax = std::max(amax, std::fabs(w[r * k + g * group + i]));
          uint16_t s16 = f32_to_f16(amax / 7.0f);
          float s = f16_to_f32(s16);
          p.scales.as<uint16_t>()[r * groups + g] = s16;
          for (int64_t i = 0; i < group; ++i) {
            int64_t kk = g * group + i;
            size_t idx = size_t(r * k + kk);
            long q = s > 0 ? std::lround(w[idx] / s) : 0;
            q = std::max(-8L, std::min(7L, q));
            uint8_t nib = uint8_t(q + 8);
            uint8_t& byte = p.weight.as<uint8_t>()[idx / 2];
            if (kk % 2 == 0) byte = uint8_t((byte & 0xf0) | nib);   // low nibble = even k
            else byte = uint8_t((byte & 0x0f) | (nib << 4));
            p.dequant[idx] = double(q) * double(s);
          }
        }
      }
      break;
    }
  }
  return p;
}

inline std::string format_kernel(const char* prefix, WeightFormat f) {
  return std::string(prefix) + std::string(weight_format_name(f));
}

}  // namespace dse::cpu::test
