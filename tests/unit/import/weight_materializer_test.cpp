// materialize_weight: every recipe and format against a straightforward whole-tensor
// computation, identical bytes whatever the block size and thread count, bounded buffers, and
// the error paths (NaN source, missing scale sink, bad group, sink failure, cancellation).
#include "dse/import/weight_materializer.h"

#include <cmath>
#include <cstring>

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "dse/cpu/weight_packing.h"
#include "dse/import/rope_table.h"
#include "tiny_checkpoint.h"

using namespace dse;
using namespace dse::importer;
using namespace dse::importer::testing;
using Catch::Matchers::ContainsSubstring;

namespace {

const std::string kKvB = "model.layers.1.self_attn.kv_b_proj.weight";

std::vector<std::string> experts(const char* proj) {
  std::vector<std::string> v;
  for (int e = 0; e < 4; ++e) v.push_back(expert_name(e, proj));
  return v;
}

void append(std::vector<float>& out, const std::vector<float>& v, size_t begin = 0, size_t end = SIZE_MAX) {
  out.insert(out.end(), v.begin() + long(begin), v.begin() + long(std::min(end, v.size())));
}

// What each recipe must produce, assembled the obvious way from whole tensors.
std::vector<float> expected_f32(const TinyCheckpoint& ck, const WeightRecipe& r) {
  std::vector<float> out;
  switch (r.kind) {
    case WeightRecipe::copy:
    case WeightRecipe::concat_rows:
    case WeightRecipe::stack_experts:
    case WeightRecipe::stack_experts_concat:
      for (const std::string& s : r.sources) append(out, ck.f32(s));
      break;
    case WeightRecipe::row_slice: {
      auto v = ck.f32(r.sources[0]);
      const size_t K = v.size() / size_t(ck.archive.find(r.sources[0])->rows());
      append(out, v, size_t(r.row_begin) * K, size_t(r.row_end) * K);
      break;
    }
    case WeightRecipe::mla_w_uk:
    case WeightRecipe::mla_w_uv: {
      auto v = ck.f32(r.sources[0]);  // [H*(dn+dv), C] = [2*7, 8]
      for (size_t h = 0; h < 2; ++h)
        for (size_t i = 0; i < (r.kind == WeightRecipe::mla_w_uk ? 4u : 3u); ++i) {
          size_t row = h * 7 + (r.kind == WeightRecipe::mla_w_uk ? 0 : 4) + i;
          append(out, v, row * 8, row * 8 + 8);
        }
      break;
    }
    case WeightRecipe::rope_table: {
      out.resize(size_t(r.max_pos * rope_dim(ck.config)));
      REQUIRE(fill_rope_table(ck.config, r.max_pos, out).ok());
      break;
    }
  }
  return out;
}

struct Output {
  std::vector<std::byte> data, scales;
  MaterializeStats stats;
};

Output run(const TinyCheckpoint& ck, const WeightRecipe& r, WeightFormat f, int group,
           MaterializeOptions opts = {}) {
  VectorSink data, scales;
  Output o;
  opts.stats = &o.stats;
  Status st = materialize_weight(ck.archive, ck.config, r, f, group, data, &scales, {}, opts);
  INFO(st.message());
  REQUIRE(st.ok());
  o.data = std::move(data.data);
  o.scales = std::move(scales.data);
  return o;
}

template <typename T>
std::vector<T> from_bytes(const std::vector<std::byte>& b) {
  std::vector<T> v(b.size() / sizeof(T));
  std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
  return v;
}

// The same format produced by the CPU packers in one call on the whole f32 matrix.
Output pack_whole(const std::vector<float>& w, int64_t n, int64_t k, WeightFormat f, int group) {
  Output o;
  switch (f) {
    case WeightFormat::f32:
      o.data.resize(w.size() * 4);
      std::memcpy(o.data.data(), w.data(), o.data.size());
      break;
    case WeightFormat::f16:
    case WeightFormat::bf16: {
      std::vector<uint16_t> h(w.size());
      REQUIRE((f == WeightFormat::f16 ? cpu::pack_f16(w, h) : cpu::pack_bf16(w, h)).ok());
      o.data = as_bytes(h);
      break;
    }
    case WeightFormat::w8: {
      std::vector<int8_t> q(w.size());
      std::vector<float> s(static_cast<size_t>(n));
      REQUIRE(cpu::pack_w8(w, n, k, q, s).ok());
      o.data = as_bytes(q);
      o.scales = as_bytes(s);
      break;
    }
    case WeightFormat::fp8: {
      std::vector<uint8_t> q(w.size());
      std::vector<float> s(static_cast<size_t>(n));
      REQUIRE(cpu::pack_fp8(w, n, k, q, s).ok());
      o.data = as_bytes(q);
      o.scales = as_bytes(s);
      break;
    }
    case WeightFormat::w4: {
      std::vector<uint8_t> q(w.size() / 2);
      std::vector<uint16_t> s(static_cast<size_t>(n * (k / group)));
      REQUIRE(cpu::pack_w4(w, n, k, group, q, s).ok());
      o.data = as_bytes(q);
      o.scales = as_bytes(s);
      break;
    }
  }
  return o;
}

// Dequantizes a materialized slot the way docs/KERNELS.md defines its value.
std::vector<float> dequantize(const Output& o, int64_t n, int64_t k, WeightFormat f, int group) {
  std::vector<float> v(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) {
      size_t at = size_t(i * k + j);
      switch (f) {
        case WeightFormat::f32: v[at] = from_bytes<float>(o.data)[at]; break;
        case WeightFormat::f16: v[at] = f16_to_f32(from_bytes<uint16_t>(o.data)[at]); break;
        case WeightFormat::bf16: v[at] = bf16_to_f32(from_bytes<uint16_t>(o.data)[at]); break;
        case WeightFormat::w8:
          v[at] = float(int8_t(std::to_integer<int>(o.data[at]))) * from_bytes<float>(o.scales)[size_t(i)];
          break;
        case WeightFormat::fp8:
          v[at] = fp8e4m3_to_f32(std::to_integer<uint8_t>(o.data[at])) * from_bytes<float>(o.scales)[size_t(i)];
          break;
        case WeightFormat::w4: {
          uint8_t byte = std::to_integer<uint8_t>(o.data[at / 2]);
          int nibble = (j % 2 == 0) ? (byte & 0xf) : (byte >> 4);
          v[at] = float(nibble - 8) * f16_to_f32(from_bytes<uint16_t>(o.scales)[size_t(i * (k / group) + j / group)]);
          break;
        }
      }
    }
  return v;
}

}  // namespace

TEST_CASE("every recipe materializes to the straightforwardly assembled f32 values", "[materialize]") {
  TinyCheckpoint ck;
  const WeightRecipe recipes[] = {
      recipe_copy("q_proj.weight"),
      recipe_copy("model.norm.weight"),
      recipe_concat_rows({"q_proj.weight", "k_proj.weight", "v_proj.weight"}),
      recipe_concat_rows({"q_proj.bias", "k_proj.bias", "v_proj.bias"}),
      recipe_row_slice("wide.weight", 5, 33),
      recipe_mla_w_uk(kKvB),
      recipe_mla_w_uv(kKvB),
      recipe_stack_experts(experts("down_proj")),
      recipe_stack_experts_concat(experts("gate_proj"), experts("up_proj")),
      recipe_copy("fp8.weight"),
      recipe_rope_table(24),
  };
  for (const WeightRecipe& r : recipes) {
    INFO(weight_recipe_kind_name(r.kind) << " " << (r.sources.empty() ? "" : r.sources[0]));
    // Tiny blocks and several threads, so row runs are split across blocks and workers.
    Output o = run(ck, r, WeightFormat::f32, 0, {.threads = 3, .block_bytes = 64});
    CHECK(o.scales.empty());
    CHECK(from_bytes<float>(o.data) == expected_f32(ck, r));
  }
  // The fused gate/up of expert 1 sits at rows [12, 24): gate first, then up.
  Output fused = run(ck, recipe_stack_experts_concat(experts("gate_proj"), experts("up_proj")), WeightFormat::f32, 0);
  auto f = from_bytes<float>(fused.data);
  CHECK(std::vector<float>(f.begin() + 12 * 16, f.begin() + 18 * 16) == ck.f32(expert_name(1, "gate_proj")));
  CHECK(std::vector<float>(f.begin() + 18 * 16, f.begin() + 24 * 16) == ck.f32(expert_name(1, "up_proj")));
}

TEST_CASE("every weight format equals the CPU packers applied to the whole matrix", "[materialize]") {
  TinyCheckpoint ck;
  struct Case {
    WeightRecipe recipe;
    int64_t n, k;
  };
  const Case cases[] = {
      {recipe_row_slice("wide.weight", 3, 40), 37, 64},
      {recipe_stack_experts_concat(experts("gate_proj"), experts("up_proj")), 48, 16},
      {recipe_copy("fp8.weight"), TinyCheckpoint::kFp8Rows, TinyCheckpoint::kFp8Cols},
  };
  for (const Case& c : cases) {
    const std::vector<float> w = expected_f32(ck, c.recipe);
    REQUIRE(int64_t(w.size()) == c.n * c.k);
    for (WeightFormat f : cpu::kAllWeightFormats) {
      const int group = 16;
      INFO(weight_recipe_kind_name(c.recipe.kind) << " as " << cpu::weight_format_name(f));
      Output got = run(ck, c.recipe, f, group, {.threads = 4, .block_bytes = 256});
      Output want = pack_whole(w, c.n, c.k, f, group);
      CHECK(got.data == want.data);
      CHECK(got.scales == want.scales);
      auto shape = std::vector<int64_t>{c.n, c.k};
      CHECK(got.data.size() == weight_bytes(f, shape, group));
      CHECK(got.scales.size() == scale_bytes(f, shape, group));
      // And the stored value is close to the source, within each format's rounding.
      std::vector<float> back = dequantize(got, c.n, c.k, f, group);
      float max_abs = 0, max_err = 0;
      size_t worst = 0;
      for (size_t i = 0; i < w.size(); ++i) {
        max_abs = std::max(max_abs, std::fabs(w[i]));
        if (std::fabs(back[i] - w[i]) > max_err) worst = i;
        max_err = std::max(max_err, std::fabs(back[i] - w[i]));
      }
      INFO("worst element " << worst << ": " << w[worst] << " stored as " << back[worst]);
      const float tol = f == WeightFormat::f32 ? 0.0f
                        : f == WeightFormat::f16 ? max_abs / 1024
                        : f == WeightFormat::bf16 ? max_abs / 128
                        : f == WeightFormat::w8 ? max_abs / 127
                        : f == WeightFormat::fp8 ? max_abs / 8
                                                 : max_abs / 7;
      CHECK(max_err <= tol);
    }
  }
}

TEST_CASE("the bytes do not depend on the block size or the thread count", "[materialize]") {
  TinyCheckpoint ck;
  const WeightRecipe r = recipe_copy("fp8.weight");
  for (WeightFormat f : {WeightFormat::w4, WeightFormat::w8, WeightFormat::bf16}) {
    Output one = run(ck, r, f, 32, {.threads = 1, .block_bytes = 1ull << 30});
    for (int threads : {2, 5})
      for (uint64_t block : {uint64_t(1), uint64_t(4096), uint64_t(50000)}) {
        INFO(cpu::weight_format_name(f) << " threads " << threads << " block " << block);
        Output many = run(ck, r, f, 32, {.threads = threads, .block_bytes = block});
        CHECK(many.data == one.data);
        CHECK(many.scales == one.scales);
      }
  }
}

TEST_CASE("host memory stays at one block of rows, not the whole tensor", "[materialize]") {
  TinyCheckpoint ck;
  const int64_t rows = TinyCheckpoint::kFp8Rows, cols = TinyCheckpoint::kFp8Cols;
  const uint64_t block = 16 * cols * 4;  // 16 rows of f32
  Output o = run(ck, recipe_copy("fp8.weight"), WeightFormat::w4, 32, {.threads = 2, .block_bytes = block});
  // f32 block + its packed bytes; the whole tensor in f32 would be rows * cols * 4.
  CHECK(o.stats.peak_buffer_bytes <= block + block / 8);
  CHECK(o.stats.peak_buffer_bytes * 10 < uint64_t(rows * cols * 4));
  CHECK(o.stats.blocks == (rows + 15) / 16);
  CHECK(o.stats.rows == rows);
  CHECK(o.stats.data_bytes == uint64_t(rows * cols / 2));
  CHECK(o.stats.scale_bytes == uint64_t(rows * (cols / 32) * 2));
}

TEST_CASE("all data bytes reach the sink before any scale byte", "[materialize]") {
  TinyCheckpoint ck;
  struct Recorder final : SegmentSink {
    std::vector<char>* log;
    char tag;
    Recorder(std::vector<char>* l, char t) : log(l), tag(t) {}
    Status append(std::span<const std::byte>) override {
      log->push_back(tag);
      return Status::Ok();
    }
  };
  std::vector<char> log;
  Recorder data(&log, 'd'), scales(&log, 's');
  MaterializeOptions opts;
  opts.block_bytes = 1000;
  REQUIRE(materialize_weight(ck.archive, ck.config, recipe_copy("fp8.weight"), WeightFormat::w8, 0, data,
                             &scales, {}, opts)
              .ok());
  REQUIRE(log.size() > 2);
  CHECK(log.back() == 's');
  CHECK(std::count(log.begin(), log.end(), 's') == 1);
  CHECK(std::is_sorted(log.begin(), log.end()));  // 'd' < 's'
}

TEST_CASE("a NaN in a source weight stops materialization naming the tensor", "[materialize]") {
  TempDir dir;
  std::vector<float> v(64, 0.5f);
  v[37] = std::nanf("");
  write_safetensors(dir / "model.safetensors", {bf16_tensor("model.layers.0.mlp.down_proj.weight", {8, 8}, v)});
  auto a = SafetensorsArchive::open(dir.path());
  REQUIRE(a.ok());
  auto c = parse_model_config(R"({"architectures": ["LlamaForCausalLM"]})", "c");
  REQUIRE(c.ok());
  VectorSink data, scales;
  Status s = materialize_weight(a.value(), c.value(), recipe_copy("model.layers.0.mlp.down_proj.weight"),
                                WeightFormat::w8, 0, data, &scales);
  CHECK(s.code() == StatusCode::corrupt_data);
  CHECK_THAT(s.message(), ContainsSubstring("model.layers.0.mlp.down_proj.weight"));
  CHECK_THAT(s.message(), ContainsSubstring("NaN"));
}

TEST_CASE("materialization refuses what the slot cannot hold", "[materialize]") {
  TinyCheckpoint ck;
  VectorSink data;
  SECTION("a quantized format without a scale sink") {
    Status s = materialize_weight(ck.archive, ck.config, recipe_copy("q_proj.weight"), WeightFormat::w8, 0, data,
                                  nullptr);
    CHECK(s.code() == StatusCode::invalid_argument);
    CHECK_THAT(s.message(), ContainsSubstring("scale sink"));
  }
  SECTION("w4 with a group that does not divide the input dim") {
    VectorSink scales;
    Status s = materialize_weight(ck.archive, ck.config, recipe_copy("q_proj.weight"), WeightFormat::w4, 12, data,
                                  &scales);
    CHECK(s.code() == StatusCode::invalid_argument);
    CHECK_THAT(s.message(), ContainsSubstring("q_proj.weight"));
  }
  SECTION("a rope table in anything but f32") {
    Status s = materialize_weight(ck.archive, ck.config, recipe_rope_table(8), WeightFormat::f16, 0, data, nullptr);
    CHECK(s.code() == StatusCode::invalid_argument);
    CHECK_THAT(s.message(), ContainsSubstring("f32"));
  }
  CHECK(data.data.empty());
}

TEST_CASE("a sink error and a cancelled progress callback end materialization", "[materialize]") {
  TinyCheckpoint ck;
  struct Full final : SegmentSink {
    Status append(std::span<const std::byte>) override { return Status(StatusCode::io_error, "disk full"); }
  } full;
  Status s = materialize_weight(ck.archive, ck.config, recipe_copy("wide.weight"), WeightFormat::f16, 0, full, nullptr);
  CHECK(s.code() == StatusCode::io_error);
  CHECK(s.message() == "disk full");

  VectorSink data;
  int calls = 0;
  MaterializeOptions opts;
  opts.block_bytes = 64 * 4 * 10;  // 10 rows per block, 4 blocks
  Status c = materialize_weight(ck.archive, ck.config, recipe_copy("wide.weight"), WeightFormat::f32, 0, data,
                                nullptr,
                                [&](int64_t done, int64_t total) {
                                  ++calls;
                                  CHECK(total == 40);
                                  return done < 20;
                                },
                                opts);
  CHECK(c.code() == StatusCode::cancelled);
  CHECK(calls == 2);
  CHECK(data.data.size() == 20u * 64 * 4);
}

TEST_CASE("an exact zero weight is stored as zero in every format", "[materialize]") {
  TempDir dir;
  std::vector<float> v(64, 0.0f);
  for (size_t i = 0; i < v.size(); i += 3) v[i] = 0.25f * float(i % 7) - 0.5f;  // zeros in between
  write_safetensors(dir / "model.safetensors", {bf16_tensor("w.weight", {2, 32}, v)});
  auto a = SafetensorsArchive::open(dir.path());
  REQUIRE(a.ok());
  auto c = parse_model_config(R"({"architectures": ["LlamaForCausalLM"]})", "c");
  REQUIRE(c.ok());
  for (WeightFormat f : cpu::kAllWeightFormats) {
    INFO(cpu::weight_format_name(f));
    VectorSink data, scales;
    REQUIRE(materialize_weight(a.value(), c.value(), recipe_copy("w.weight"), f, 16, data, &scales).ok());
    Output o{std::move(data.data), std::move(scales.data), {}};
    std::vector<float> back = dequantize(o, 2, 32, f, 16);
    for (size_t i = 1; i < v.size(); i += 3) {
      INFO("element " << i);
      CHECK(back[i] == 0.0f);
    }
  }
}
