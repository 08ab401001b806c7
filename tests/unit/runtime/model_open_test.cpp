// Opening artifacts: every verification or validation failure surfaces as a status with a message.
#include <catch2/catch_test_macros.hpp>
#include <fstream>
#include <string>

#include "dse/dse.h"
#include "dse/dse.hpp"
#include "dse/formats/artifact_reader.h"
#include "tiny_model.h"

using namespace dse::test;

namespace {

// Opens `spec` written to a temp file; returns the status and leaves the message in *message.
dse_status open_status(const TinyModelSpec& spec, std::string* message) {
  TempFile f("open");
  REQUIRE(write_tiny_model(f.path(), spec).ok());
  dse_model* m = nullptr;
  const dse_status st = dse_model_open(f.str().c_str(), nullptr, &m);
  *message = dse_last_error_message();
  dse_model_close(m);
  return st;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a valid tiny artifact opens and reports what it needs", "[model]") {
  TempFile f("valid");
  REQUIRE(write_tiny_model(f.path(), successor_model(default_successors())).ok());
  auto model = dse::Model::open(f.str());
  REQUIRE(model.ok());
  const dse_model_info info = model->info();
  CHECK(info.vocab_size == 259);
  CHECK(info.max_seq_len == 64);
  CHECK(info.prefill_chunk == 4);
  CHECK(std::string(info.target) == "cpu");
  CHECK(std::string(info.family) == "llama");
  CHECK(info.eos_id == kEos);
  CHECK(info.has_chat_format == 1);
  const dse_memory_plan plan = model->memory_plan();
  CHECK(plan.kv_cache_bytes == 2 * 64 * 259 * 4);  // two [64, 259] F32 caches
  CHECK(plan.weights_mapped_bytes == 2 * 259 * 259 * 4);
  CHECK(plan.weights_resident_bytes == 0);  // uncompressed: used in place
  CHECK(plan.total_allocated_bytes == plan.kv_cache_bytes + plan.arena_bytes + plan.host_scratch_bytes);
}

TEST_CASE("opening a missing file fails with not_found and names the path", "[model]") {
  dse_model* m = nullptr;
  CHECK(dse_model_open("/nonexistent/dir/model.dse", nullptr, &m) == DSE_NOT_FOUND);
  CHECK(m == nullptr);
  CHECK(contains(dse_last_error_message(), "/nonexistent/dir/model.dse"));
}

TEST_CASE("opening a file that is not an artifact fails with corrupt_data", "[model]") {
  TempFile f("garbage");
  {
    std::ofstream out(f.path(), std::ios::binary);
    out << std::string(200, 'x');
  }
  dse_model* m = nullptr;
  CHECK(dse_model_open(f.str().c_str(), nullptr, &m) == DSE_CORRUPT_DATA);
  CHECK(std::string(dse_last_error_message()).size() > 10);
}

TEST_CASE("a flipped weight byte fails the segment checksum at open", "[model]") {
  TempFile f("flipped");
  REQUIRE(write_tiny_model(f.path(), successor_model(default_successors())).ok());
  uint64_t offset = 0;
  {
    auto reader = dse::formats::ArtifactReader::open(f.path());
    REQUIRE(reader.ok());
    offset = reader->segments()[1].offset;
  }
  {
    std::fstream io(f.path(), std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(std::streamoff(offset + 8));
    io.put('\x7f');
  }
  dse_model* m = nullptr;
  CHECK(dse_model_open(f.str().c_str(), nullptr, &m) == DSE_CORRUPT_DATA);
  CHECK(contains(dse_last_error_message(), "segment 1"));
  CHECK(contains(dse_last_error_message(), "xxHash64"));
  // Skipping the checksums opens it.
  dse_model_options o = {};
  o.flags = DSE_MODEL_SKIP_SEGMENT_CHECKSUMS;
  CHECK(dse_model_open(f.str().c_str(), &o, &m) == DSE_OK);
  dse_model_close(m);
}

TEST_CASE("an artifact for another target fails with target_mismatch", "[model]") {
  TinyModelSpec spec = successor_model(default_successors());
  spec.backend = "hip";  // no build runs HIP artifacts yet (CUDA ones: gpu_session_test.cpp)
  std::string msg;
  CHECK(open_status(spec, &msg) == DSE_TARGET_MISMATCH);
  CHECK(contains(msg, "sm_90"));
  CHECK(contains(msg, "--target cpu"));
}

TEST_CASE("an instruction naming a kernel this build lacks fails with unsupported", "[model]") {
  TinyModelSpec spec = successor_model(default_successors());
  spec.lm_head_kernel = "matmul_f32_w3";
  std::string msg;
  CHECK(open_status(spec, &msg) == DSE_UNSUPPORTED);
  CHECK(contains(msg, "matmul_f32_w3"));
  CHECK(contains(msg, "instruction 6"));
}

TEST_CASE("a slot outside its region fails with corrupt_data and the numbers", "[model]") {
  TinyModelSpec spec = successor_model(default_successors());
  spec.logits_offset_shift = 4096;
  std::string msg;
  CHECK(open_status(spec, &msg) == DSE_CORRUPT_DATA);
  CHECK(contains(msg, "\"logits\""));
  CHECK(contains(msg, "region arena"));
}

TEST_CASE("a slot whose size disagrees with shape times dtype fails with corrupt_data", "[model]") {
  TinyModelSpec spec = successor_model(default_successors());
  spec.embed_size_delta = 4;
  std::string msg;
  CHECK(open_status(spec, &msg) == DSE_CORRUPT_DATA);
  CHECK(contains(msg, "\"embed\""));
  CHECK(contains(msg, "268328 bytes"));  // 259 x 259 x 4 + 4
}

TEST_CASE("a malformed merge in the tokenizer fails with corrupt_data", "[model]") {
  TinyModelSpec spec = successor_model(default_successors());
  spec.extra_merge = "abc";
  std::string msg;
  CHECK(open_status(spec, &msg) == DSE_CORRUPT_DATA);
  CHECK(contains(msg, "merge 1"));
}

TEST_CASE("an artifact whose kernel call fails validate_cpu_call is refused before it runs", "[model]") {
  // embed_f32_f32 as the lm_head: its operands (x F32 as tokens) do not match the signature.
  TinyModelSpec spec = successor_model(default_successors());
  spec.lm_head_kernel = "embed_f32_f32";
  std::string msg;
  CHECK(open_status(spec, &msg) == DSE_CORRUPT_DATA);
  CHECK(contains(msg, "embed_f32_f32"));
}
