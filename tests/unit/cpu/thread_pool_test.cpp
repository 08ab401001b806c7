// dse::ThreadPool: coverage of every index exactly once, inline fallbacks, nesting.
#include <catch2/catch_test_macros.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "dse/cpu/thread_pool.h"

using dse::ThreadPool;

TEST_CASE("parallel_for visits every index exactly once for any thread count and range", "[cpu][thread_pool]") {
  for (int threads : {1, 2, 3, 4, 7}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int64_t n : {0, 1, 2, 5, 64, 1001}) {
      std::vector<std::atomic<int>> hits(size_t(n) + 3);
      pool.parallel_for(3, 3 + n, [&](int64_t i) { hits[size_t(i)].fetch_add(1); });
      for (int64_t i = 0; i < 3; ++i) CHECK(hits[size_t(i)].load() == 0);
      for (int64_t i = 3; i < 3 + n; ++i) {
        INFO("threads " << threads << " n " << n << " index " << i);
        CHECK(hits[size_t(i)].load() == 1);
      }
    }
  }
}

TEST_CASE("a pool of one thread runs the body on the calling thread", "[cpu][thread_pool]") {
  ThreadPool pool(1);
  const auto caller = std::this_thread::get_id();
  bool all_inline = true;
  pool.parallel_for(0, 100, [&](int64_t) { all_inline = all_inline && std::this_thread::get_id() == caller; });
  CHECK(all_inline);
}

TEST_CASE("a pool of four threads really uses several threads", "[cpu][thread_pool]") {
  ThreadPool pool(4);
  std::atomic<int> distinct_ranges{0};
  pool.parallel_for_ranges(0, 4000, [&](int64_t lo, int64_t hi) {
    CHECK(lo < hi);
    distinct_ranges.fetch_add(1);
  });
  CHECK(distinct_ranges.load() == 4);
}

TEST_CASE("a parallel_for inside a body runs inline instead of deadlocking", "[cpu][thread_pool]") {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(64);
  pool.parallel_for(0, 8, [&](int64_t i) {
    pool.parallel_for(0, 8, [&](int64_t j) { hits[size_t(i * 8 + j)].fetch_add(1); });
  });
  for (auto& h : hits) CHECK(h.load() == 1);
}

TEST_CASE("parallel_for with a null pool runs inline", "[cpu][thread_pool]") {
  int64_t sum = 0;
  dse::parallel_for(nullptr, 0, 10, [&](int64_t i) { sum += i; });
  CHECK(sum == 45);
}

TEST_CASE("many consecutive jobs on one pool all complete", "[cpu][thread_pool]") {
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  for (int job = 0; job < 2000; ++job) {
    pool.parallel_for(0, 16, [&](int64_t i) { total.fetch_add(i); });
  }
  CHECK(total.load() == 2000 * 120);
}
