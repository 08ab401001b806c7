// dse::ThreadPool: the fixed pool of worker threads that every CPU kernel runs on.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace dse {

// A fixed set of worker threads, created once with the session and joined by the destructor.
//
// parallel_for splits [begin, end) into at most size() contiguous ranges, one per thread; the
// calling thread runs the first range itself and waits for the others. Nothing is allocated per
// call: the body is passed as a function pointer plus a pointer to the caller's lambda.
//
// Determinism: a kernel computes each output element inside exactly one range and in a fixed
// order that does not depend on where the range boundaries fall, so its result is bit-identical
// for any number of threads.
//
// Calls from several threads at once are serialised; a call made from inside a running body
// (nesting) runs inline on the calling worker. Bodies must not throw.
class ThreadPool {
 public:
  using RangeFn = void (*)(void* context, int64_t lo, int64_t hi);

  // n_threads counts the calling thread; 0 or 1 means "run everything inline". If the system
  // refuses to start a thread, the pool keeps the ones it got (size() says how many).
  explicit ThreadPool(int n_threads) noexcept;
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Threads that share the work, the caller included (>= 1).
  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(context, lo, hi) over a partition of [begin, end) into contiguous ranges.
  void run_ranges(int64_t begin, int64_t end, RangeFn fn, void* context) noexcept;

  // fn(lo, hi) for each range of a partition of [begin, end).
  template <typename Fn>
  void parallel_for_ranges(int64_t begin, int64_t end, Fn&& fn) noexcept {
    using F = std::remove_reference_t<Fn>;
    run_ranges(begin, end,
               [](void* c, int64_t lo, int64_t hi) { (*static_cast<F*>(c))(lo, hi); },
               const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // fn(i) for every i in [begin, end).
  template <typename Fn>
  void parallel_for(int64_t begin, int64_t end, Fn&& fn) noexcept {
    auto body = [&fn](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) fn(i);
    };
    parallel_for_ranges(begin, end, body);
  }

 private:
  void worker_main(int index) noexcept;
  static void range_of(int64_t begin, int64_t end, int parts, int index, int64_t* lo, int64_t* hi);

  std::vector<std::thread> workers_;
  std::mutex call_mutex_;  // one parallel_for at a time
  std::mutex mutex_;       // guards the job fields below
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  uint64_t generation_ = 0;  // bumped for every job; workers wait for a change
  bool stopping_ = false;
  int parts_ = 0;            // ranges in the current job (caller's included)
  int pending_ = 0;          // worker ranges not finished yet
  int64_t begin_ = 0, end_ = 0;
  RangeFn fn_ = nullptr;
  void* context_ = nullptr;
};

// parallel_for on `pool`, or inline when pool is null.
template <typename Fn>
void parallel_for(ThreadPool* pool, int64_t begin, int64_t end, Fn&& fn) noexcept {
  if (pool) {
    pool->parallel_for(begin, end, fn);
  } else {
    for (int64_t i = begin; i < end; ++i) fn(i);
  }
}

// parallel_for_ranges on `pool`, or fn(begin, end) inline when pool is null.
template <typename Fn>
void parallel_for_ranges(ThreadPool* pool, int64_t begin, int64_t end, Fn&& fn) noexcept {
  if (pool) {
    pool->parallel_for_ranges(begin, end, fn);
  } else if (begin < end) {
    fn(begin, end);
  }
}

}  // namespace dse
