// embed_f32_<w>: rows of the table, widened to f32; ids outside the vocabulary are an error.
#include <catch2/catch_test_macros.hpp>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

TEST_CASE("embed copies the table row of every token for f32, f16 and bf16 tables", "[cpu][embed]") {
  std::mt19937 rng(1);
  ThreadPool pool(4);
  const int64_t vocab = 50, hidden = 24, capacity = 6;
  for (WeightFormat f : {WeightFormat::f32, WeightFormat::f16, WeightFormat::bf16}) {
    INFO(weight_format_name(f));
    PackedWeight table = pack_weight_for_test(f, {vocab, hidden}, random_values(rng, size_t(vocab * hidden)));
    Tensor tokens = i32_tensor({capacity}, {3, 0, 49, 3, 17, 8});
    Tensor out(DType::f32, {capacity, hidden});
    Call call;
    call.operands = {tokens.view, table.weight.view, out.view};
    REQUIRE(run_kernel(format_kernel("embed_f32_", f), call, step_of(5), &pool).ok());
    for (int64_t t = 0; t < 5; ++t) {
      const int32_t id = tokens.as<int32_t>()[t];
      for (int64_t h = 0; h < hidden; ++h) {
        REQUIRE(out.f32()[t * hidden + h] == float(table.dequant[size_t(id * hidden + h)]));
      }
    }
    CHECK(out.f32()[5 * hidden] == 0.0f);  // row 5 is beyond n_tokens
  }
}

TEST_CASE("embed rejects a token id outside the vocabulary with out_of_range and no crash", "[cpu][embed]") {
  std::mt19937 rng(2);
  Tensor table = f32_tensor({10, 4}, random_values(rng, 40));
  Tensor out(DType::f32, {3, 4});
  for (int32_t bad : {10, -1, 1 << 30}) {
    Tensor tokens = i32_tensor({3}, {1, bad, 2});
    Call call;
    call.operands = {tokens.view, table.view, out.view};
    Status s = run_kernel("embed_f32_f32", call, step_of(3), nullptr);
    CHECK(s.code() == StatusCode::out_of_range);
    CHECK(s.message().find("token id " + std::to_string(bad)) != std::string::npos);
    CHECK(s.message().find("[0, 10)") != std::string::npos);
  }
}
