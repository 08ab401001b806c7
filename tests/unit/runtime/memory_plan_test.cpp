// The session memory plan: checked arithmetic on hostile region sizes, the limits, the allocations.
#include "dse/runtime/memory_plan.h"

#include <catch2/catch_test_macros.hpp>
#include <cstdint>
#include <cstdio>
#include <string>

#include "dse/dse.h"
#include "tiny_model.h"

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The fuzzer's reproducer: in open-bugs/ until the lead moves it to artifact/ (fixed bugs' inputs
// are replayed from there).
std::string wraps_fixture() {
  const std::string fixed = std::string(DSE_FUZZ_CORPUS_DIR) + "/artifact/hostile-arena-size-wraps";
  if (FILE* f = std::fopen(fixed.c_str(), "rb")) {
    std::fclose(f);
    return fixed;
  }
  return std::string(DSE_FUZZ_CORPUS_DIR) + "/open-bugs/hostile-arena-size-wraps";
}

}  // namespace

TEST_CASE("rounding up to an alignment reports an overflow instead of wrapping", "[memory_plan]") {
  uint64_t r = 0;
  CHECK(dse::runtime::checked_round_up(100, 64, r));
  CHECK(r == 128);
  CHECK(dse::runtime::checked_round_up(0, 64, r));
  CHECK(r == 0);
  CHECK_FALSE(dse::runtime::checked_round_up(~uint64_t{0} - 8, 64, r));
  CHECK_FALSE(dse::runtime::checked_round_up(uint64_t{1} << 63 | 1, uint64_t{1} << 63, r));
  uint64_t sum = 0;
  CHECK_FALSE(dse::runtime::checked_add(~uint64_t{0}, 1, sum));
  CHECK(dse::runtime::checked_add(1, 2, sum));
  CHECK(sum == 3);
}

TEST_CASE("a plan whose parts sum past 2^64 saturates and fails every limit", "[memory_plan]") {
  dse::runtime::MemoryPlan plan;
  plan.arena_bytes = ~uint64_t{0} - 8;
  plan.host_scratch_bytes = 4096;
  CHECK(plan.total_allocated_bytes() == UINT64_MAX);
  CHECK(dse::runtime::check_memory_limit(plan, uint64_t{1} << 30).code() == dse::StatusCode::out_of_memory);
  CHECK(dse::runtime::check_available_memory(plan, uint64_t{1} << 30).code() == dse::StatusCode::out_of_memory);
}

TEST_CASE("a region size whose rounding wraps is refused by the allocation itself", "[memory_plan]") {
  auto b = dse::runtime::RegionBuffer::allocate(~uint64_t{0} - 8, 64, "activation arena");
  REQUIRE_FALSE(b.ok());
  CHECK(b.status().code() == dse::StatusCode::out_of_memory);
  CHECK(contains(b.status().message(), "activation arena"));
  CHECK(contains(b.status().message(), std::to_string(~uint64_t{0} - 8)));
}

TEST_CASE("the fuzzer's arena of 2^64 - 9 bytes is refused, not allocated as a few bytes", "[memory_plan]") {
  dse_model* model = nullptr;
  REQUIRE(dse_model_open(wraps_fixture().c_str(), nullptr, &model) == DSE_OK);
  dse_memory_plan plan{};
  const dse_status planned = dse_model_get_memory_plan(model, nullptr, &plan);
  CHECK(planned == DSE_OUT_OF_MEMORY);
  CHECK(contains(dse_last_error_message(), "2^64"));

  // With and without a memory limit: the limit used to be passed by the wrapped total.
  for (uint64_t limit : {uint64_t{0}, uint64_t{256} << 20}) {
    dse_session_options o = {};
    o.memory_limit_bytes = limit;
    o.n_threads = 1;
    dse_session* s = nullptr;
    CHECK(dse_session_create(model, &o, &s) == DSE_OUT_OF_MEMORY);
    CHECK(s == nullptr);
    const std::string msg = dse_last_error_message();
    CHECK(contains(msg, "activation arena"));
    CHECK(contains(msg, "recompile"));
    dse_session_destroy(s);
  }
  dse_model_close(model);
}

TEST_CASE("an integrated GPU plan uses uncompressed weights in place and reports the bytes saved", "[memory_plan]") {
  for (dse::fb::Codec codec : {dse::fb::Codec::None, dse::fb::Codec::Zstd}) {
    dse::test::TempFile f("integrated");
    dse::test::TinyModelSpec spec = dse::test::successor_model(dse::test::default_successors());
    spec.codec = codec;
    REQUIRE(dse::test::write_tiny_model(f.path(), spec).ok());
    auto model = dse::runtime::LoadedModel::open(f.path(), {});
    REQUIRE(model.ok());
    auto planned = dse::runtime::plan_session_memory(**model);
    REQUIRE(planned.ok());
    dse::runtime::MemoryPlan plan = *planned;
    REQUIRE(dse::runtime::plan_integrated_gpu_weights(**model, plan).ok());
    CHECK(plan.on_gpu);
    CHECK(plan.gpu_integrated);
    const uint64_t weights = 2 * 259 * 259 * 4;  // embed + lm_head, F32
    if (codec == dse::fb::Codec::None) {
      CHECK(plan.weights_mapped_bytes == weights);  // saved: read in place from the mapping
      CHECK(plan.weights_resident_bytes == 0);
    } else {
      CHECK(plan.weights_mapped_bytes == 0);
      CHECK(plan.weights_resident_bytes >= weights);
    }
    // One memory: the host check covers the device regions too.
    CHECK(plan.host_bytes() == plan.total_allocated_bytes());
    CHECK(plan.device_bytes() == plan.weights_resident_bytes + plan.kv_cache_bytes + plan.arena_bytes +
                                     plan.gpu_workspace_bytes);
  }
}

TEST_CASE("a discrete GPU plan checks only host scratch against the host's memory", "[memory_plan]") {
  dse::runtime::MemoryPlan plan;
  plan.on_gpu = true;
  plan.weights_resident_bytes = uint64_t(4) << 30;
  plan.kv_cache_bytes = uint64_t(1) << 30;
  plan.host_scratch_bytes = uint64_t(1) << 20;
  CHECK(plan.host_bytes() == plan.host_scratch_bytes);
  CHECK(plan.device_bytes() == (uint64_t(5) << 30));
  CHECK(dse::runtime::check_available_memory(plan, uint64_t(2) << 30).ok());
}
