// kv_store into F32 and F16 caches; positions past the cache.
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
