// The loader's guarantee: a call that validate_cpu_call accepts cannot make the kernel touch
// memory outside its operands. Every kernel gets a valid call, then one operand at a time is
// replaced by a tensor with one dimension changed; whatever validation accepts is run (under
// the sanitizer build, an out-of-bounds access fails the test).
#include <catch2/catch_test_macros.hpp>

#include <memory>

#include "dse/cpu/weight_format.h"
#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

// Tensors of a call, kept alive together.
struct OwnedCall {
  std::vector<std::unique_ptr<Tensor>> tensors;
  Call call;
  void add(Tensor t) {
    tensors.push_back(std::make_unique<Tensor>(std::move(t)));
    call.operands.push_back(tensors.back()->view);
  }
};

// Fills a tensor with values every kernel accepts at run time (ids 0, small floats).
Tensor filled(DType dtype, std::vector<int64_t> shape, int32_t group = 0) {
  Tensor t(dtype, std::move(shape), group);
  const int64_t n = t.count();
  for (int64_t i = 0; i < n; ++i) {
    const float v = float((i * 37) % 17) / 17.0f - 0.5f;
    switch (dtype) {
      case DType::f32: t.f32()[i] = v; break;
      case DType::f16: t.as<uint16_t>()[i] = f32_to_f16(v); break;
      case DType::bf16: t.as<uint16_t>()[i] = f32_to_bf16(v); break;
      case DType::fp8e4m3: t.as<uint8_t>()[i] = f32_to_fp8e4m3(v); break;
      case DType::i8: t.as<int8_t>()[i] = int8_t(i % 7 - 3); break;
      case DType::i4: if (i % 2 == 0) t.as<uint8_t>()[i / 2] = uint8_t(0x97); break;
      case DType::i32: t.as<int32_t>()[i] = 0; break;
      case DType::u8: t.as<uint8_t>()[i] = 0; break;
    }
  }
  return t;
}

void add_weight(OwnedCall& c, WeightFormat f, std::vector<int64_t> shape, int32_t group) {
  c.add(filled(weight_dtype(f), shape, f == WeightFormat::w4 ? group : 0));
  if (!has_scale_slot(f)) return;
  std::vector<int64_t> s(shape.begin(), shape.end() - 1);
  if (f == WeightFormat::w4) s.push_back(shape.back() / group);
  c.add(filled(scale_dtype(f), s));
}

WeightFormat format_of(std::string_view name) {
  for (WeightFormat f : kAllWeightFormats) {
    const std::string suffix = "_" + std::string(weight_format_name(f));
    if (name.size() > suffix.size() && name.substr(name.size() - suffix.size()) == suffix) return f;
  }
  return WeightFormat::f32;
}

bool reads_caches(std::string_view name) {
  return name == "kv_store" || name == "attention_f32" || name == "mla_attention_f32";
}

// A small valid call for every kernel: T = 3 tokens, caches of 8 positions. With `quantized`,
// the cache kernels get I8/FP8E4M3 caches, each followed by its F32 [S, groups] scale slot.
OwnedCall valid_call(std::string_view name, bool quantized = false) {
  OwnedCall c;
  const int64_t t = 3;
  const WeightFormat f = format_of(name);
  if (name.rfind("embed_", 0) == 0) {
    c.add(filled(DType::i32, {t}));
    c.add(filled(weight_dtype(f), {10, 16}));
    c.add(filled(DType::f32, {t, 16}));
  } else if (name == "rms_norm_f32") {
    c.add(filled(DType::f32, {t, 16}));
    c.add(filled(DType::f32, {16}));
    c.add(filled(DType::f32, {t, 16}));
    c.call.fparams = {1e-6f};
  } else if (name.rfind("matmul_", 0) == 0) {
    c.add(filled(DType::f32, {t, 32}));
    add_weight(c, f, {8, 32}, 16);
    c.add(filled(DType::f32, {8}));
    c.add(filled(DType::f32, {t, 8}));
    c.call.iparams = {1};
  } else if (name == "add_f32") {
    for (int i = 0; i < 3; ++i) c.add(filled(DType::f32, {t, 16}));
  } else if (name == "silu_mul_f32") {
    c.add(filled(DType::f32, {t, 16}));
    c.add(filled(DType::f32, {t, 8}));
  } else if (name == "rope_f32") {
    c.add(filled(DType::f32, {t, 2 * 12}));
    c.add(filled(DType::f32, {8, 8}));
    c.call.iparams = {2, 12, 4, 8, 1};
  } else if (name == "kv_store" && quantized) {
    c.add(filled(DType::f32, {t, 16}));
    c.add(filled(DType::i8, {8, 16}));
    c.add(filled(DType::f32, {8, 2}));
  } else if (name == "kv_store") {
    c.add(filled(DType::f32, {t, 16}));
    c.add(filled(DType::f16, {8, 16}));
  } else if (name == "attention_f32") {
    c.add(filled(DType::f32, {t, 4 * 8}));
    c.add(filled(quantized ? DType::i8 : DType::f16, {8, 2 * 8}));
    if (quantized) c.add(filled(DType::f32, {8, 2}));
    c.add(filled(quantized ? DType::fp8e4m3 : DType::f32, {8, 2 * 6}));
    if (quantized) c.add(filled(DType::f32, {8, 2}));
    c.add(filled(DType::f32, {t, 4 * 6}));
    c.call.iparams = {4, 2, 8, 6};
    c.call.fparams = {0.3f};
  } else if (name == "mla_attention_f32") {
    c.add(filled(DType::f32, {t, 2 * (8 + 4)}));
    c.add(filled(quantized ? DType::fp8e4m3 : DType::f32, {8, 16}));
    if (quantized) c.add(filled(DType::f32, {8, 1}));
    c.add(filled(quantized ? DType::i8 : DType::f16, {8, 4}));
    if (quantized) c.add(filled(DType::f32, {8, 1}));
    c.add(filled(DType::bf16, {2, 8, 16}));
    c.add(filled(DType::f16, {2, 6, 16}));
    c.add(filled(DType::f32, {t, 2 * 6}));
    c.call.iparams = {2, 8, 4, 16, 6};
    c.call.fparams = {0.2f};
  } else if (name == "moe_route_f32") {
    c.add(filled(DType::f32, {t, 8}));
    c.add(filled(DType::f32, {8}));
    c.add(filled(DType::i32, {t, 2}));
    c.add(filled(DType::f32, {t, 2}));
    c.call.iparams = {2, 4, 2, 1, 2, 1, 1};
    c.call.fparams = {2.5f};
  } else if (name.rfind("moe_ffn_", 0) == 0) {
    c.add(filled(DType::f32, {t, 32}));
    c.add(filled(DType::i32, {t, 2}));
    c.add(filled(DType::f32, {t, 2}));
    add_weight(c, f, {4, 2 * 16, 32}, 16);
    add_weight(c, f, {4, 32, 16}, 16);
    c.add(filled(DType::f32, {t, 32}));
    c.call.iparams = {4, 2, 16, 32};
  } else if (name == "last_row_f32") {
    c.add(filled(DType::f32, {t, 16}));
    c.add(filled(DType::f32, {1, 16}));
  }
  return c;
}

}  // namespace

TEST_CASE("every kernel accepts and runs its small valid call", "[cpu][validation]") {
  ThreadPool pool(2);
  for (const CpuKernelInfo& k : cpu_kernels()) {
    for (bool quantized : {false, true}) {
      if (quantized && !reads_caches(k.name)) continue;
      OwnedCall c = valid_call(k.name, quantized);
      INFO(k.name << (quantized ? " (quantized caches)" : ""));
      REQUIRE_FALSE(c.call.operands.empty());
      const Status v = validate_cpu_call(k, c.call.get());
      INFO(v.message());
      REQUIRE(v.ok());
      CHECK(k.fn(c.call.get(), step_of(3, 1), &pool).ok());
    }
  }
}

TEST_CASE("an empty call is rejected by every kernel with a message naming it", "[cpu][validation]") {
  for (const CpuKernelInfo& k : cpu_kernels()) {
    Call empty;
    Status s = validate_cpu_call(k, empty.get());
    if (k.iparams.empty() && k.fparams.empty()) CHECK(s.message().find("operands") != std::string::npos);
    CHECK(s.code() == StatusCode::invalid_argument);
    CHECK(s.message().rfind(std::string(k.name) + ":", 0) == 0);
  }
}

TEST_CASE("calls with one dimension changed are rejected or run within bounds", "[cpu][validation]") {
  ThreadPool pool(2);
  int rejected = 0, accepted = 0;
  for (const CpuKernelInfo& k : cpu_kernels()) {
   for (bool quantized : {false, true}) {
    if (quantized && !reads_caches(k.name)) continue;
    const OwnedCall base = valid_call(k.name, quantized);
    for (size_t op = 0; op < base.call.operands.size(); ++op) {
      const TensorView& v = base.call.operands[op];
      for (int d = 0; d < v.rank; ++d) {
        for (int64_t delta : {-1, 1, 2}) {
          std::vector<int64_t> shape(v.shape, v.shape + v.rank);
          shape[size_t(d)] += delta;
          if (shape[size_t(d)] < 1) continue;
          int64_t count = 1;
          for (int64_t s : shape) count *= s;
          if (v.dtype == DType::i4 && count % 2 != 0) continue;
          OwnedCall c = valid_call(k.name, quantized);
          c.tensors.push_back(std::make_unique<Tensor>(filled(v.dtype, shape, v.group_size)));
          c.call.operands[op] = c.tensors.back()->view;
          const Status s = validate_cpu_call(k, c.call.get());
          INFO(k.name << " operand " << op << " dim " << d << " delta " << delta << ": " << s.message());
          if (!s.ok()) {
            ++rejected;
            CHECK(s.code() == StatusCode::invalid_argument);
            continue;
          }
          ++accepted;  // e.g. a larger token capacity or cache: must still be safe
          for (int64_t n_tokens : {1, 3, 100}) {
            const Status r = k.fn(c.call.get(), step_of(n_tokens, 0), &pool);
            CHECK((r.ok() || r.code() == StatusCode::out_of_range));
          }
        }
      }
    }
   }
  }
  CHECK(rejected > 100);
  CHECK(accepted > 0);
}

TEST_CASE("an operand dtype outside the DType enum is rejected, not used as a shift count", "[cpu][validation]") {
  OwnedCall c = valid_call("add_f32");
  c.call.operands[1].dtype = static_cast<DType>(200);
  Status s = validate_cpu_call(kernel("add_f32"), c.call.get());
  CHECK(s.code() == StatusCode::invalid_argument);
  CHECK(s.message().find("operand 1 'b'") != std::string::npos);
}

TEST_CASE("every kernel writes bit-identical results with 1 and 4 threads", "[cpu][validation][determinism]") {
  ThreadPool one(1), four(4);
  for (const CpuKernelInfo& k : cpu_kernels()) {
    for (bool quantized : {false, true}) {
      if (quantized && !reads_caches(k.name)) continue;
      OwnedCall a = valid_call(k.name, quantized), b = valid_call(k.name, quantized);
      INFO(k.name << (quantized ? " (quantized caches)" : ""));
      REQUIRE(k.fn(a.call.get(), step_of(3, 2), &one).ok());
      REQUIRE(k.fn(b.call.get(), step_of(3, 2), &four).ok());
      for (size_t i = 0; i < a.tensors.size(); ++i) {
        INFO("operand " << i);
        CHECK(a.tensors[i]->storage == b.tensors[i]->storage);
      }
    }
  }
}
