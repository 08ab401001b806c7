// kv_store into F32, F16 and quantized (I8, FP8E4M3 + scale slot) caches; positions past the cache.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

TEST_CASE("kv_store writes each row at its sequence position, rounding to f16 for an F16 cache", "[cpu][kv_store]") {
  std::mt19937 rng(9);
  ThreadPool pool(4);
  for (DType dt : {DType::f32, DType::f16}) {
    const int64_t cap = 4, w = 10, s = 12;
    auto sv = random_values(rng, size_t(cap * w));
    Tensor src = f32_tensor({cap, w}, sv), cache(dt, {s, w});
    Call call;
    call.operands = {src.view, cache.view};
    REQUIRE(run_kernel("kv_store", call, step_of(3, 9), &pool).ok());
    for (int64_t p = 0; p < s; ++p) {
      for (int64_t i = 0; i < w; ++i) {
        const float got = dt == DType::f16 ? f16_to_f32(cache.as<uint16_t>()[p * w + i]) : cache.f32()[p * w + i];
        float want = 0.0f;
        if (p >= 9) want = dt == DType::f16 ? f16_to_f32(f32_to_f16(sv[size_t((p - 9) * w + i)])) : sv[size_t((p - 9) * w + i)];
        REQUIRE(got == want);
      }
    }
  }
}

TEST_CASE("kv_store returns out_of_range for a position past the cache and writes nothing", "[cpu][kv_store]") {
  Tensor src = f32_tensor({2, 2}, {1, 2, 3, 4}), cache(DType::f32, {4, 2});
  Call call;
  call.operands = {src.view, cache.view};
  Status s = run_kernel("kv_store", call, step_of(2, 3), nullptr);
  CHECK(s.code() == StatusCode::out_of_range);
  CHECK(s.message().find("position 4") != std::string::npos);
  CHECK(cache.f32()[6] == 0.0f);
}

// docs/KERNELS.md "Quantized KV caches": scale = max|v| / qmax per (position, group), values
// q * scale with q rounded to nearest (I8: |error| <= scale / 2; FP8 e4m3 with 3 mantissa bits:
// |error| <= 2^-4 |v| for normal values, 2^-10 scale in the subnormal range).
TEST_CASE("kv_store quantizes each group of a row with one scale per position and group", "[cpu][kv_store]") {
  std::mt19937 rng(21);
  ThreadPool pool(4);
  for (DType dt : {DType::i8, DType::fp8e4m3}) {
    for (int64_t groups : {1, 2, 4}) {
      const int64_t cap = 4, w = 32, s = 12, start = 7, gw = w / groups;
      auto sv = random_values(rng, size_t(cap * w), -3.0f, 3.0f);
      for (int64_t i = 0; i < gw; ++i) sv[size_t(w + i)] = 0.0f;  // an all-zero group: scale 0, bytes 0
      Tensor src = f32_tensor({cap, w}, sv), cache(dt, {s, w}), scales(DType::f32, {s, groups});
      Call call;
      call.operands = {src.view, cache.view, scales.view};
      INFO(dtype_name(dt) << ", " << groups << " groups");
      REQUIRE(run_kernel("kv_store", call, step_of(cap, start), &pool).ok());
      const float qmax = dt == DType::i8 ? 127.0f : 448.0f;
      for (int64_t p = 0; p < s; ++p) {
        for (int64_t g = 0; g < groups; ++g) {
          const float scale = scales.f32()[p * groups + g];
          if (p < start || p >= start + cap) {  // not written by this call
            CHECK(scale == 0.0f);
            continue;
          }
          const float* v = sv.data() + (p - start) * w + g * gw;
          float amax = 0.0f;
          for (int64_t i = 0; i < gw; ++i) amax = std::max(amax, std::fabs(v[i]));
          REQUIRE(scale == amax / qmax);
          for (int64_t i = 0; i < gw; ++i) {
            const int64_t at = p * w + g * gw + i;
            const float q = dt == DType::i8 ? float(cache.as<int8_t>()[at]) : fp8e4m3_to_f32(cache.as<uint8_t>()[at]);
            const double got = double(q) * scale;
            const double bound = dt == DType::i8 ? 0.501 * scale
                                                 : std::ldexp(std::fabs(double(v[i])), -4) + std::ldexp(double(scale), -10);
            INFO("position " << p << " element " << g * gw + i << ": stored " << got << ", value " << v[i]);
            REQUIRE(std::fabs(got - double(v[i])) <= bound + 1e-7);
            if (amax == 0.0f) REQUIRE(cache.as<uint8_t>()[at] == 0);
          }
        }
      }
      for (int64_t i = 0; i < start * w; ++i) REQUIRE(cache.as<uint8_t>()[i] == 0);  // rows before start_pos untouched
    }
  }
}

TEST_CASE("kv_store into a quantized cache returns out_of_range past the cache and writes nothing", "[cpu][kv_store]") {
  Tensor src = f32_tensor({2, 2}, {1, 2, 3, 4}), cache(DType::i8, {4, 2}), scales(DType::f32, {4, 1});
  Call call;
  call.operands = {src.view, cache.view, scales.view};
  Status s = run_kernel("kv_store", call, step_of(2, 3), nullptr);
  CHECK(s.code() == StatusCode::out_of_range);
  CHECK(scales.f32()[3] == 0.0f);
  CHECK(cache.as<int8_t>()[6] == 0);
}
