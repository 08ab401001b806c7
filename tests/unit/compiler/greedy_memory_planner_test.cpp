// Tests of the greedy arena planner: fixed cases and a property test on random lifetimes.
#include "dse/compiler/Planner/GreedyMemoryPlanner.h"

#include <catch2/catch_test_macros.hpp>

#include <algorithm>
#include <random>

using dse::compiler::find_overlap;
using dse::compiler::GreedyMemoryPlanner;
using dse::compiler::PlacedBuffer;

TEST_CASE("planner reuses the bytes of buffers whose lifetimes do not overlap") {
  GreedyMemoryPlanner planner(64);
  planner.add_buffer(1000, 0, 1);
  planner.add_buffer(1000, 2, 3);
  planner.plan();
  CHECK(planner.offset(0) == 0);
  CHECK(planner.offset(1) == 0);
  CHECK(planner.arena_size() == 1024);
}

TEST_CASE("planner separates buffers that are live at the same step") {
  GreedyMemoryPlanner planner(64);
  planner.add_buffer(100, 0, 2);
  planner.add_buffer(100, 2, 3);  // shares step 2 with the first
  planner.plan();
  CHECK(planner.offset(0) != planner.offset(1));
  CHECK(planner.offset(1) % 64 == 0);
  CHECK(planner.offset(0) % 64 == 0);
  CHECK_FALSE(find_overlap(planner.buffers()).has_value());
}

TEST_CASE("planner fills a gap between live buffers when the new buffer fits") {
  GreedyMemoryPlanner planner(1);
  planner.add_buffer(300, 0, 10);  // largest: at 0
  planner.add_buffer(200, 0, 10);  // third: above both others, at 550
  planner.add_buffer(250, 0, 4);   // second: at 300
  planner.add_buffer(100, 5, 10);  // live with the first two only: fits in [300, 550)
  planner.plan();
  CHECK(planner.offset(0) == 0);
  CHECK(planner.offset(2) == 300);
  CHECK(planner.offset(1) == 550);
  CHECK(planner.offset(3) == 300);
  CHECK(planner.arena_size() == 750);
}

TEST_CASE("overlap check finds two live buffers sharing bytes") {
  std::vector<PlacedBuffer> buffers{{0, 100, 0, 5}, {50, 100, 5, 9}};
  auto clash = find_overlap(buffers);
  REQUIRE(clash.has_value());
  CHECK(clash->first == 0);
  CHECK(clash->second == 1);
  buffers[1].first_use = 6;  // no longer live together
  CHECK_FALSE(find_overlap(buffers).has_value());
}

TEST_CASE("planned random lifetimes never overlap and stay within the sum of sizes") {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t alignment = int64_t(1) << std::uniform_int_distribution<int>(0, 8)(rng);
    GreedyMemoryPlanner planner(alignment);
    const int n = std::uniform_int_distribution<int>(1, 60)(rng);
    const int steps = std::uniform_int_distribution<int>(1, 40)(rng);
    int64_t aligned_total = 0;
    for (int i = 0; i < n; ++i) {
      int a = std::uniform_int_distribution<int>(0, steps)(rng);
      int b = std::uniform_int_distribution<int>(0, steps)(rng);
      int64_t size = std::uniform_int_distribution<int64_t>(0, 5000)(rng);
      planner.add_buffer(size, std::min(a, b), std::max(a, b));
      aligned_total += dse::compiler::align_up(size, alignment);
    }
    planner.plan();
    INFO("trial " << trial << "\n" << planner.describe());
    REQUIRE_FALSE(find_overlap(planner.buffers()).has_value());
    for (const PlacedBuffer& b : planner.buffers()) REQUIRE(b.offset % alignment == 0);
    // Never worse than giving every buffer its own bytes.
    REQUIRE(planner.arena_size() <= aligned_total + alignment);
    // Never better than the bytes live at the busiest step.
    int64_t peak = 0;
    for (int s = 0; s <= steps; ++s) {
      int64_t live = 0;
      for (const PlacedBuffer& b : planner.buffers())
        if (b.first_use <= s && s <= b.last_use) live += b.size;
      peak = std::max(peak, live);
    }
    REQUIRE(planner.arena_size() >= peak);
  }
}
