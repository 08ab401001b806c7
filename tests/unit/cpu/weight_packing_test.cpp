// The quantization packers of weight_packing.h: layouts, scale rules, error bounds, and that the
// matmul kernel reads what they write.
#include <catch2/catch_test_macros.hpp>

#include "dse/cpu/weight_packing.h"
#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

// Decodes a w4 slot per the KERNELS.md table: (nibble - 8) * s[n, k / g], low nibble = even k.
std::vector<double> decode_w4(const std::vector<uint8_t>& packed, const std::vector<uint16_t>& scales, int64_t n,
                              int64_t k, int64_t g) {
  std::vector<double> out(size_t(n * k));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      uint8_t b = packed[size_t((r * k + i) / 2)];
      int nib = i % 2 == 0 ? (b & 0xf) : (b >> 4);
      out[size_t(r * k + i)] = double(nib - 8) * double(f16_to_f32(scales[size_t(r * (k / g) + i / g)]));
    }
  }
  return out;
}

std::vector<float> gaussian(std::mt19937& rng, size_t n, float sigma) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace

TEST_CASE("pack_w4 stores q + 8 with the low nibble for even k and the signed scale m / -8", "[cpu][packing]") {
  const std::vector<float> w = {-8.0f, 4.0f, 2.0f, 7.0f, 1.0f, -0.5f, 0.25f, 0.5f};
  std::vector<uint8_t> packed(4);
  std::vector<uint16_t> scales(2);
  REQUIRE(pack_w4(w, 1, 8, 4, packed, scales).ok());
  CHECK(scales[0] == f32_to_f16(1.0f));     // m = -8 -> scale 1
  CHECK(scales[1] == f32_to_f16(-0.125f));  // m = 1 -> scale -1/8
  // Group 0: q = -8, 4, 2, 7 -> nibbles 0, 12, 10, 15.
  CHECK(packed[0] == 0xC0);
  CHECK(packed[1] == 0xFA);
  // Group 1: q = -8, 4, -2, -4 -> nibbles 0, 12, 6, 4.
  CHECK(packed[2] == 0xC0);
  CHECK(packed[3] == 0x46);
  const auto back = decode_w4(packed, scales, 1, 8, 4);
  for (size_t i = 0; i < w.size(); ++i) CHECK(back[i] == double(w[i]));
}

TEST_CASE("pack_w4 error stays within half a step, or one step for a clipped opposite-sign extreme", "[cpu][packing]") {
  std::mt19937 rng(7);
  const int64_t n = 16, k = 256, g = 64;
  auto w = random_values(rng, size_t(n * k));
  std::vector<uint8_t> packed(size_t(n * k / 2));
  std::vector<uint16_t> scales(size_t(n * k / g));
  REQUIRE(pack_w4(w, n, k, g, packed, scales).ok());
  const auto back = decode_w4(packed, scales, n, k, g);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < k; ++i) {
      const double s = std::fabs(double(f16_to_f32(scales[size_t(r * (k / g) + i / g)])));
      const double err = std::fabs(back[size_t(r * k + i)] - double(w[size_t(r * k + i)]));
      INFO("row " << r << " k " << i << " w " << w[size_t(r * k + i)] << " step " << s);
      CHECK(err <= s * 1.0001);
      if (std::fabs(w[size_t(r * k + i)]) < 7.4 * s) CHECK(err <= s * 0.5001);
    }
  }
}

TEST_CASE("the signed m / -8 int4 scale has lower error than max|w| / 7 on Gaussian weights", "[cpu][packing]") {
  std::mt19937 rng(11);
  const int64_t n = 64, k = 1024, g = 128;
  auto w = gaussian(rng, size_t(n * k), 0.02f);
  std::vector<uint8_t> packed(size_t(n * k / 2));
  std::vector<uint16_t> scales(size_t(n * k / g));
  REQUIRE(pack_w4(w, n, k, g, packed, scales).ok());
  const auto ours = decode_w4(packed, scales, n, k, g);
  const PackedWeight by7 = pack_weight_for_test(WeightFormat::w4, {n, k}, w, int32_t(g));
  double mse_ours = 0, mse_7 = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    mse_ours += (ours[i] - w[i]) * (ours[i] - w[i]);
    mse_7 += (by7.dequant[i] - w[i]) * (by7.dequant[i] - w[i]);
  }
  INFO("mse m/-8 " << mse_ours / double(w.size()) << ", mse max/7 " << mse_7 / double(w.size()));
  CHECK(mse_ours < 0.9 * mse_7);
}

TEST_CASE("pack_w8 uses scale max|w| / 127 per row and rounds to the nearest level", "[cpu][packing]") {
  std::mt19937 rng(3);
  const int64_t n = 8, k = 100;
  auto w = random_values(rng, size_t(n * k), -3.0f, 3.0f);
  for (int64_t i = 0; i < k; ++i) w[size_t(5 * k + i)] = 0.0f;  // an all-zero row
  std::vector<int8_t> q(size_t(n * k));
  std::vector<float> s(static_cast<size_t>(n));
  REQUIRE(pack_w8(w, n, k, q, s).ok());
  CHECK(s[5] == 0.0f);
  for (int64_t r = 0; r < n; ++r) {
    float amax = 0;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(w[size_t(r * k + i)]));
    CHECK(s[size_t(r)] == amax / 127.0f);
    for (int64_t i = 0; i < k; ++i) {
      const double back = double(q[size_t(r * k + i)]) * s[size_t(r)];
      CHECK(std::fabs(back - w[size_t(r * k + i)]) <= 0.5001 * s[size_t(r)]);
      CHECK(q[size_t(r * k + i)] >= -127);
    }
  }
}

TEST_CASE("pack_fp8 uses scale max|w| / 448 per row and keeps e4m3 relative precision", "[cpu][packing]") {
  std::mt19937 rng(4);
  const int64_t n = 6, k = 77;
  auto w = random_values(rng, size_t(n * k), -2.0f, 2.0f);
  std::vector<uint8_t> q(size_t(n * k));
  std::vector<float> s(static_cast<size_t>(n));
  REQUIRE(pack_fp8(w, n, k, q, s).ok());
  for (int64_t r = 0; r < n; ++r) {
    float amax = 0;
    for (int64_t i = 0; i < k; ++i) amax = std::max(amax, std::fabs(w[size_t(r * k + i)]));
    CHECK(s[size_t(r)] == amax / 448.0f);
    bool saw_max = false;
    for (int64_t i = 0; i < k; ++i) {
      const uint8_t code = q[size_t(r * k + i)];
      saw_max = saw_max || (code & 0x7f) == 0x7e;
      const double back = double(fp8e4m3_to_f32(code)) * s[size_t(r)];
      const double x = w[size_t(r * k + i)];
      // Normal e4m3 values have 3 mantissa bits (relative half-step 1/16); subnormals a fixed step.
      CHECK(std::fabs(back - x) <= std::max(std::fabs(x) / 16.0, std::ldexp(1.0, -10) * s[size_t(r)]) * 1.0001);
    }
    CHECK(saw_max);
  }
}

TEST_CASE("packers reject wrong span sizes, bad groups and non-finite weights with a message", "[cpu][packing]") {
  std::vector<float> w(64, 0.5f);
  std::vector<uint8_t> packed(32);
  std::vector<uint16_t> scales(2);
  Status odd = pack_w4(w, 2, 32, 3, packed, scales);
  CHECK(odd.code() == StatusCode::invalid_argument);
  CHECK(odd.message().find("group size 3") != std::string::npos);
  Status short_scales = pack_w4(w, 2, 32, 16, packed, std::span<uint16_t>(scales.data(), 1));
  CHECK(short_scales.code() == StatusCode::invalid_argument);
  CHECK(short_scales.message().find("scale span") != std::string::npos);
  w[40] = std::nanf("");
  std::vector<int8_t> q8(64);
  std::vector<float> s8(2);
  Status nan = pack_w8(w, 2, 32, q8, s8);
  CHECK(nan.code() == StatusCode::invalid_argument);
  CHECK(nan.message().find("[1, 8]") != std::string::npos);
  std::vector<float> big(4, 1e7f);
  std::vector<uint8_t> p2(2);
  std::vector<uint16_t> s2(1);
  CHECK(pack_w4(big, 1, 4, 4, p2, s2).code() == StatusCode::invalid_argument);
}

TEST_CASE("packed sizes follow the KERNELS.md table", "[cpu][packing]") {
  CHECK(packed_weight_bytes(WeightFormat::w4, 10, 128) == 640);
  CHECK(packed_weight_bytes(WeightFormat::w8, 10, 128) == 1280);
  CHECK(packed_weight_bytes(WeightFormat::bf16, 10, 128) == 2560);
  CHECK(packed_weight_bytes(WeightFormat::w4, 1, 7) == -1);
  CHECK(packed_scale_count(WeightFormat::w4, 10, 256, 128) == 20);
  CHECK(packed_scale_count(WeightFormat::fp8, 10, 256, 0) == 10);
  CHECK(packed_scale_count(WeightFormat::f16, 10, 256, 0) == 0);
}

TEST_CASE("matmul reads the packers' output as the weights they encode", "[cpu][packing][matmul]") {
  std::mt19937 rng(21);
  const int64_t t = 3, n = 24, k = 256, g = 64;
  auto x = random_values(rng, size_t(t * k));
  auto w = gaussian(rng, size_t(n * k), 0.05f);
  for (WeightFormat f : {WeightFormat::f16, WeightFormat::bf16, WeightFormat::w8, WeightFormat::w4, WeightFormat::fp8}) {
    INFO(weight_format_name(f));
    Tensor weight(weight_dtype(f), {n, k}, f == WeightFormat::w4 ? int32_t(g) : 0);
    Tensor scales;
    std::vector<double> deq(size_t(n * k));
    double step_bound = 0;  // largest possible |dequant - w| per element
    if (f == WeightFormat::f16 || f == WeightFormat::bf16) {
      std::span<uint16_t> out(weight.as<uint16_t>(), size_t(n * k));
      REQUIRE((f == WeightFormat::f16 ? pack_f16(w, out) : pack_bf16(w, out)).ok());
      for (size_t i = 0; i < deq.size(); ++i) deq[i] = f == WeightFormat::f16 ? f16_to_f32(out[i]) : bf16_to_f32(out[i]);
      step_bound = 0.2 * 0.01;
    } else if (f == WeightFormat::w8 || f == WeightFormat::fp8) {
      scales = Tensor(DType::f32, {n});
      std::span<float> s(scales.f32(), size_t(n));
      if (f == WeightFormat::w8) {
        REQUIRE(pack_w8(w, n, k, std::span<int8_t>(weight.as<int8_t>(), size_t(n * k)), s).ok());
        for (size_t i = 0; i < deq.size(); ++i) deq[i] = double(weight.as<int8_t>()[i]) * s[i / size_t(k)];
      } else {
        REQUIRE(pack_fp8(w, n, k, std::span<uint8_t>(weight.as<uint8_t>(), size_t(n * k)), s).ok());
        for (size_t i = 0; i < deq.size(); ++i) deq[i] = double(fp8e4m3_to_f32(weight.as<uint8_t>()[i])) * s[i / size_t(k)];
      }
      step_bound = 0.2 / 16;
    } else {
      scales = Tensor(DType::f16, {n, k / g});
      std::vector<uint8_t> packed(size_t(n * k / 2));
      std::vector<uint16_t> s16(size_t(n * k / g));
      REQUIRE(pack_w4(w, n, k, g, packed, s16).ok());
      std::memcpy(weight.storage.data(), packed.data(), packed.size());
      std::memcpy(scales.storage.data(), s16.data(), s16.size() * 2);
      deq = decode_w4(packed, s16, n, k, g);
      step_bound = 0.3 / 8;
    }
    for (size_t i = 0; i < deq.size(); ++i) REQUIRE(std::fabs(deq[i] - w[i]) <= step_bound);
    Tensor xt = f32_tensor({t, k}, x), out(DType::f32, {t, n});
    Call call;
    call.operands.push_back(xt.view);
    call.operands.push_back(weight.view);
    if (has_scale_slot(f)) call.operands.push_back(scales.view);
    call.operands.push_back(out.view);
    call.iparams = {0};
    REQUIRE(run_kernel(format_kernel("matmul_f32_", f), call, step_of(t), nullptr).ok());
    std::vector<double> want(size_t(t * n)), scale(want.size());
    for (int64_t i = 0; i < t; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0, mag = 0;
        for (int64_t kk = 0; kk < k; ++kk) {
          acc += double(x[size_t(i * k + kk)]) * deq[size_t(j * k + kk)];
          mag += std::fabs(double(x[size_t(i * k + kk)]) * deq[size_t(j * k + kk)]);
        }
        want[size_t(i * n + j)] = acc;
        scale[size_t(i * n + j)] = mag;
      }
    }
    expect_close(out.values(), want, 1e-5, scale);
  }
}
