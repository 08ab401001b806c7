// SafetensorsArchive: single and sharded checkpoints written by the test, and every kind of
// damage the header validation must catch, each reported with the file and the tensor.
#include "dse/import/safetensors.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "safetensors_test_writer.h"

using namespace dse;
using namespace dse::importer;
using namespace dse::importer::testing;
using Catch::Matchers::ContainsSubstring;

namespace {

std::vector<StTensor> sample_tensors() {
  return {
      f32_tensor("model.norm.weight", {4}, {1.0f, 2.0f, 3.0f, 4.0f}),
      bf16_tensor("model.embed_tokens.weight", {3, 2}, {0.5f, -1.0f, 2.0f, 0.25f, 8.0f, -3.0f}),
      f16_tensor("lm_head.weight", {2, 2}, {1.5f, -2.5f, 0.125f, 4.0f}),
      fp8_tensor("w.weight", {2, 3}, {0x38, 0xb8, 0x40, 0x00, 0x30, 0x48}),
      f32_tensor("w.weight_scale_inv", {1, 1}, {0.5f}),
  };
}

Status open_error(const std::filesystem::path& p) {
  auto a = SafetensorsArchive::open(p);
  REQUIRE_FALSE(a.ok());
  return a.status();
}

}  // namespace

TEST_CASE("a single safetensors file is read back with names, dtypes, shapes and bytes", "[safetensors]") {
  TempDir dir;
  auto tensors = sample_tensors();
  write_safetensors(dir / "model.safetensors", tensors);
  auto a = SafetensorsArchive::open(dir.path());
  INFO(a.status().message());
  REQUIRE(a.ok());
  REQUIRE(a->tensors().size() == tensors.size());
  CHECK(a->files().size() == 1);
  for (const StTensor& t : tensors) {
    const TensorInfo* info = a->find(t.name);
    REQUIRE(info);
    CHECK(std::string(st_dtype_name(info->dtype)) == t.dtype);
    CHECK(info->shape == t.shape);
    REQUIRE(info->data.size() == t.bytes.size());
    CHECK(std::equal(info->data.begin(), info->data.end(), t.bytes.begin()));
  }
  CHECK(a->find("model.layers.0.missing") == nullptr);
  // Sorted by name, so lookups and listings are deterministic.
  for (size_t i = 1; i < a->tensors().size(); ++i) CHECK(a->tensors()[i - 1].name < a->tensors()[i].name);
  const TensorInfo* e = a->find("model.embed_tokens.weight");
  CHECK(e->rows() == 3);
  CHECK(e->cols() == 2);
  CHECK(a->find("model.norm.weight")->rows() == 1);
  CHECK(a->find("model.norm.weight")->cols() == 4);
}

TEST_CASE("a .safetensors file can be opened directly", "[safetensors]") {
  TempDir dir;
  write_safetensors(dir / "weights.safetensors", sample_tensors());
  auto a = SafetensorsArchive::open(dir / "weights.safetensors");
  REQUIRE(a.ok());
  CHECK(a->find("lm_head.weight"));
}

TEST_CASE("a sharded checkpoint is read through model.safetensors.index.json", "[safetensors]") {
  TempDir dir;
  write_sharded(dir.path(), {{"model-00001-of-00002.safetensors",
                              {f32_tensor("a.weight", {2, 2}, {1, 2, 3, 4}), f32_tensor("b.weight", {1}, {5})}},
                             {"model-00002-of-00002.safetensors", {bf16_tensor("c.weight", {2}, {6, 7})}}});
  auto a = SafetensorsArchive::open(dir.path());
  INFO(a.status().message());
  REQUIRE(a.ok());
  CHECK(a->tensors().size() == 3);
  CHECK(a->files().size() == 2);
  const TensorInfo* c = a->find("c.weight");
  REQUIRE(c);
  CHECK(a->files()[c->file_index].filename() == "model-00002-of-00002.safetensors");
  CHECK(a->files()[a->find("a.weight")->file_index].filename() == "model-00001-of-00002.safetensors");
}

TEST_CASE("the fingerprint is stable and changes with any header", "[safetensors]") {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", sample_tensors());
  auto a = SafetensorsArchive::open(dir.path());
  auto b = SafetensorsArchive::open(dir.path());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->fingerprint() == b->fingerprint());
  auto tensors = sample_tensors();
  tensors[0].name = "model.norm.weight2";
  write_safetensors(dir / "model.safetensors", tensors);
  auto c = SafetensorsArchive::open(dir.path());
  REQUIRE(c.ok());
  CHECK(c->fingerprint() != a->fingerprint());
}

TEST_CASE("an archive stays usable after it is moved", "[safetensors]") {
  TempDir dir;
  write_safetensors(dir / "model.safetensors", sample_tensors());
  auto a = SafetensorsArchive::open(dir.path());
  REQUIRE(a.ok());
  const TensorInfo* before = a->find("lm_head.weight");
  SafetensorsArchive moved = std::move(a.value());
  CHECK(moved.find("lm_head.weight") == before);
  CHECK(std::to_integer<int>(moved.find("model.norm.weight")->data[0]) == 0);  // 1.0f, little-endian
}

TEST_CASE("damaged safetensors files are rejected naming the file and the tensor", "[safetensors]") {
  TempDir dir;
  const auto path = dir / "model.safetensors";
  auto tensors = sample_tensors();
  const auto data = concat_data(tensors);

  SECTION("shorter than the header length") {
    write_text(path, "abc");
    Status s = open_error(path);
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("model.safetensors"));
  }
  SECTION("header length past the end of the file") {
    write_safetensors(path, tensors);
    std::filesystem::resize_file(path, 20);
    Status s = open_error(path);
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("header length"));
  }
  SECTION("header that is not JSON") {
    write_raw(path, "{\"a\": [1, 2", data);
    Status s = open_error(path);
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("not valid JSON"));
  }
  SECTION("data offsets outside the file (truncated data)") {
    write_safetensors(path, tensors);
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 3);
    Status s = open_error(path);
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("w.weight_scale_inv"));  // the last tensor
    CHECK_THAT(s.message(), ContainsSubstring("past the data area"));
  }
  SECTION("byte size that does not match dtype and shape") {
    tensors[1].shape = {3, 3};
    write_raw(path, header_json(tensors), data);
    Status s = open_error(path);
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("model.embed_tokens.weight"));
    CHECK_THAT(s.message(), ContainsSubstring("needs 18"));
  }
  SECTION("dtype that does not match the byte size") {
    tensors[0].dtype = "F16";
    write_raw(path, header_json(tensors), data);
    Status s = open_error(path);
    CHECK_THAT(s.message(), ContainsSubstring("model.norm.weight"));
  }
  SECTION("unknown dtype") {
    tensors[0].dtype = "F4";
    write_raw(path, header_json(tensors), data);
    Status s = open_error(path);
    CHECK(s.code() == StatusCode::unsupported);
    CHECK_THAT(s.message(), ContainsSubstring("\"F4\""));
    CHECK_THAT(s.message(), ContainsSubstring("model.norm.weight"));
  }
  SECTION("the same name twice in one header") {
    std::string h = header_json(tensors);
    h.insert(h.size() - 1, ",\"lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}");
    write_raw(path, h, data);
    Status s = open_error(path);
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("\"lm_head.weight\" appears twice"));
  }
  SECTION("two tensors that overlap") {
    std::string h = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    write_raw(path, h, std::vector<std::byte>(12));
    Status s = open_error(path);
    CHECK_THAT(s.message(), ContainsSubstring("overlap"));
  }
  SECTION("offsets that end before they begin") {
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", std::vector<std::byte>(12));
    Status s = open_error(path);
    CHECK_THAT(s.message(), ContainsSubstring("\"a\""));
  }
  SECTION("a negative dimension") {
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", std::vector<std::byte>(4));
    Status s = open_error(path);
    CHECK_THAT(s.message(), ContainsSubstring("non-negative"));
  }
  SECTION("a folder without weights") {
    Status s = open_error(dir.path());
    CHECK(s.code() == StatusCode::not_found);
    CHECK_THAT(s.message(), ContainsSubstring("model.safetensors"));
  }
}

TEST_CASE("a sharded checkpoint whose index and shards disagree is rejected", "[safetensors]") {
  TempDir dir;
  SECTION("a shard the index names is missing") {
    write_sharded(dir.path(), {{"model-00001-of-00002.safetensors", {f32_tensor("a", {1}, {1})}},
                               {"model-00002-of-00002.safetensors", {f32_tensor("b", {1}, {2})}}});
    std::filesystem::remove(dir / "model-00002-of-00002.safetensors");
    Status s = open_error(dir.path());
    CHECK(s.code() == StatusCode::not_found);
    CHECK_THAT(s.message(), ContainsSubstring("model-00002-of-00002.safetensors"));
  }
  SECTION("the index lists a tensor its shard does not hold") {
    write_safetensors(dir / "s1.safetensors", {f32_tensor("a", {1}, {1})});
    write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors", "ghost": "s1.safetensors"}})");
    Status s = open_error(dir.path());
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("\"ghost\""));
  }
  SECTION("a shard holds a tensor the index does not list") {
    write_safetensors(dir / "s1.safetensors", {f32_tensor("a", {1}, {1}), f32_tensor("extra", {1}, {1})});
    write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors"}})");
    Status s = open_error(dir.path());
    CHECK_THAT(s.message(), ContainsSubstring("\"extra\""));
    CHECK_THAT(s.message(), ContainsSubstring("s1.safetensors"));
  }
  SECTION("the same tensor in two shards") {
    write_safetensors(dir / "s1.safetensors", {f32_tensor("a", {1}, {1})});
    write_safetensors(dir / "s2.safetensors", {f32_tensor("a", {1}, {2})});
    write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
    Status s = open_error(dir.path());
    CHECK_THAT(s.message(), ContainsSubstring("\"a\""));
  }
  SECTION("a shard path that leaves the model folder") {
    write_text(dir / "model.safetensors.index.json", R"({"weight_map": {"a": "../elsewhere.safetensors"}})");
    Status s = open_error(dir.path());
    CHECK(s.code() == StatusCode::corrupt_data);
    CHECK_THAT(s.message(), ContainsSubstring("plain file name"));
  }
  SECTION("an index without weight_map") {
    write_text(dir / "model.safetensors.index.json", R"({"metadata": {}})");
    Status s = open_error(dir.path());
    CHECK_THAT(s.message(), ContainsSubstring("weight_map"));
  }
}
