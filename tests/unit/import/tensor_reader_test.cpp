// read_rows_f32: every source dtype converted exactly, FP8 dequantized with 128x128 block
// scales including partial edge blocks, and non-finite weights rejected with their position.
#include "dse/import/tensor_reader.h"

#include <cmath>
#include <random>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "safetensors_test_writer.h"

using namespace dse;
using namespace dse::importer;
using namespace dse::importer::testing;
using Catch::Matchers::ContainsSubstring;

namespace {

SafetensorsArchive open_ok(const std::filesystem::path& p) {
  auto a = SafetensorsArchive::open(p);
  INFO(a.status().message());
  REQUIRE(a.ok());
  return std::move(a.value());
}

}  // namespace

TEST_CASE("f32, f16 and bf16 rows convert exactly", "[tensor_reader]") {
  TempDir dir;
  // Values representable in every format, so the expected result is the input.
  std::vector<float> v = {0.5f, -1.25f, 3.0f, 0.0f, -0.0f, 1024.0f, 0.015625f, -7.5f, 2.0f, 6.0f, -0.75f, 96.0f};
  write_safetensors(dir / "model.safetensors",
                    {f32_tensor("f32", {4, 3}, v), f16_tensor("f16", {4, 3}, v), bf16_tensor("bf16", {4, 3}, v)});
  SafetensorsArchive a = open_ok(dir.path());
  for (const char* name : {"f32", "f16", "bf16"}) {
    INFO(name);
    const TensorInfo* t = a.find(name);
    REQUIRE(t);
    std::vector<float> out(6);
    REQUIRE(read_rows_f32(a, *t, 1, 3, out).ok());
    for (int i = 0; i < 6; ++i) CHECK(out[size_t(i)] == v[size_t(3 + i)]);
    auto all = read_tensor_f32(a, *t);
    REQUIRE(all.ok());
    CHECK(all.value() == v);
  }
}

TEST_CASE("FP8 weights are dequantized with their 128x128 block scales, edge blocks included",
          "[tensor_reader]") {
  TempDir dir;
  const int64_t N = 300, K = 200;  // 3 x 2 blocks, the last row and column blocks partial
  std::mt19937 rng(7);
  std::vector<uint8_t> q(static_cast<size_t>(N * K));
  for (auto& b : q) {
    b = uint8_t(rng() & 0xff);
    if ((b & 0x7f) == 0x7f) b = 0x10;  // keep clear of the NaN encodings
  }
  std::vector<float> scale = {0.5f, 2.0f, 0.25f, 1.5f, 3.0f, 0.125f};  // [3, 2]
  write_safetensors(dir / "model.safetensors",
                    {fp8_tensor("x.weight", {N, K}, q), f32_tensor("x.weight_scale_inv", {3, 2}, scale)});
  SafetensorsArchive a = open_ok(dir.path());
  const TensorInfo* t = a.find("x.weight");
  REQUIRE(t);
  // Rows 100..260 cross the block boundaries at 128 and 256.
  const int64_t r0 = 100, r1 = 260;
  std::vector<float> out(static_cast<size_t>((r1 - r0) * K));
  Status st = read_rows_f32(a, *t, r0, r1, out);
  INFO(st.message());
  REQUIRE(st.ok());
  int64_t mismatches = 0;
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = 0; j < K; ++j) {
      float expected = fp8e4m3_to_f32(q[size_t(i * K + j)]) * scale[size_t((i / 128) * 2 + j / 128)];
      if (out[size_t((i - r0) * K + j)] != expected) ++mismatches;
    }
  CHECK(mismatches == 0);
  CHECK(out[0] == fp8e4m3_to_f32(q[size_t(100 * K)]) * 0.5f);
}

TEST_CASE("FP8 weights without a usable scale are rejected", "[tensor_reader]") {
  TempDir dir;
  std::vector<uint8_t> q(16, 0x38);
  SECTION("missing scale") {
    write_safetensors(dir / "model.safetensors", {fp8_tensor("x.weight", {4, 4}, q)});
    SafetensorsArchive a = open_ok(dir.path());
    std::vector<float> out(16);
    Status s = read_rows_f32(a, *a.find("x.weight"), 0, 4, out);
    CHECK(s.code() == StatusCode::not_found);
    CHECK_THAT(s.message(), ContainsSubstring("\"x.weight_scale_inv\""));
  }
  SECTION("scale of the wrong shape") {
    write_safetensors(dir / "model.safetensors",
                      {fp8_tensor("x.weight", {4, 4}, q), f32_tensor("x.weight_scale_inv", {2, 1}, {1, 1})});
    SafetensorsArchive a = open_ok(dir.path());
    std::vector<float> out(16);
    Status s = read_rows_f32(a, *a.find("x.weight"), 0, 4, out);
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("expected [1, 1]"));
  }
}

TEST_CASE("NaN and Inf in a source weight are rejected with the tensor name and position", "[tensor_reader]") {
  TempDir dir;
  std::vector<float> v(12, 1.0f);
  std::vector<float> with_nan = v, with_inf = v;
  with_nan[7] = std::nanf("");
  with_inf[10] = -INFINITY;
  std::vector<uint8_t> q(4, 0x38);
  q[3] = 0x7f;  // e4m3 NaN
  write_safetensors(dir / "model.safetensors",
                    {bf16_tensor("model.layers.3.mlp.up_proj.weight", {3, 4}, with_nan),
                     f32_tensor("inf.weight", {3, 4}, with_inf), fp8_tensor("q.weight", {2, 2}, q),
                     f32_tensor("q.weight_scale_inv", {1, 1}, {1.0f})});
  SafetensorsArchive a = open_ok(dir.path());
  std::vector<float> out(12);
  Status s = read_rows_f32(a, *a.find("model.layers.3.mlp.up_proj.weight"), 0, 3, out);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("model.layers.3.mlp.up_proj.weight"));
  CHECK_THAT(s.message(), ContainsSubstring("[1, 3]"));
  CHECK_THAT(s.message(), ContainsSubstring("NaN"));
  Status i = read_rows_f32(a, *a.find("inf.weight"), 0, 3, out);
  CHECK_THAT(i.message(), ContainsSubstring("Inf"));
  CHECK_THAT(i.message(), ContainsSubstring("[2, 2]"));
  std::vector<float> out4(4);
  Status f = read_rows_f32(a, *a.find("q.weight"), 0, 2, out4);
  CHECK_THAT(f.message(), ContainsSubstring("q.weight"));
  CHECK_THAT(f.message(), ContainsSubstring("NaN"));
  // Rows without the bad value read fine.
  std::vector<float> row(4);
  CHECK(read_rows_f32(a, *a.find("model.layers.3.mlp.up_proj.weight"), 0, 1, row).ok());
}

TEST_CASE("a row range outside the tensor or an output of the wrong size is an argument error",
          "[tensor_reader]") {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", {f32_tensor("a", {3, 2}, {1, 2, 3, 4, 5, 6})});
  SafetensorsArchive a = open_ok(dir.path());
  std::vector<float> out(4);
  CHECK(read_rows_f32(a, *a.find("a"), 2, 4, out).code() == StatusCode::invalid_argument);
  CHECK(read_rows_f32(a, *a.find("a"), 0, 1, out).code() == StatusCode::invalid_argument);
  CHECK(read_rows_f32(a, *a.find("a"), 1, 3, out).ok());
  CHECK(out == std::vector<float>{3, 4, 5, 6});
}

TEST_CASE("integer tensors are not converted", "[tensor_reader]") {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", {StTensor{"ids", "I32", {2}, std::vector<std::byte>(8)}});
  SafetensorsArchive a = open_ok(dir.path());
  std::vector<float> out(2);
  Status s = read_rows_f32(a, *a.find("ids"), 0, 1, out);
  CHECK(s.code() == StatusCode::unsupported);
  CHECK_THAT(s.message(), ContainsSubstring("I32"));
}
