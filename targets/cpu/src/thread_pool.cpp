// dse::ThreadPool: workers wait on a generation counter; the caller runs range 0 itself.
#include "dse/cpu/thread_pool.h"

#include <system_error>

namespace dse {
namespace {
// Set while a thread runs a body, so that a nested parallel_for runs inline instead of
// deadlocking on call_mutex_.
thread_local bool t_inside_pool_body = false;
}  // namespace

ThreadPool::ThreadPool(int n_threads) noexcept {
  int extra = n_threads > 1 ? n_threads - 1 : 0;
  try {
    workers_.reserve(static_cast<size_t>(extra));
    for (int i = 0; i < extra; ++i) workers_.emplace_back([this, i] { worker_main(i + 1); });
  } catch (const std::exception&) {
    // Keep the threads that did start: fewer threads is slower, not wrong.
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::range_of(int64_t begin, int64_t end, int parts, int index, int64_t* lo, int64_t* hi) {
  int64_t n = end - begin;
  *lo = begin + n * index / parts;
  *hi = begin + n * (index + 1) / parts;
}

void ThreadPool::run_ranges(int64_t begin, int64_t end, RangeFn fn, void* context) noexcept {
  if (begin >= end) return;
  int64_t n = end - begin;
  int parts = size();
  if (n < parts) parts = static_cast<int>(n);
  if (parts <= 1 || t_inside_pool_body) {
    bool was_inside = t_inside_pool_body;
    t_inside_pool_body = true;
    fn(context, begin, end);
    t_inside_pool_body = was_inside;
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    begin_ = begin;
    end_ = end;
    fn_ = fn;
    context_ = context;
    parts_ = parts;
    pending_ = parts - 1;
    ++generation_;
  }
  work_ready_.notify_all();
  int64_t lo, hi;
  range_of(begin, end, parts, 0, &lo, &hi);
  t_inside_pool_body = true;
  fn(context, lo, hi);
  t_inside_pool_body = false;
  std::unique_lock<std::mutex> lock(mutex_);
  work_done_.wait(lock, [this] { return pending_ == 0; });
}

void ThreadPool::worker_main(int index) noexcept {
  uint64_t seen = 0;
  for (;;) {
    int64_t begin, end;
    int parts;
    RangeFn fn;
    void* context;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      begin = begin_;
      end = end_;
      parts = parts_;
      fn = fn_;
      context = context_;
    }
    if (index < parts) {
      int64_t lo, hi;
      range_of(begin, end, parts, index, &lo, &hi);
      t_inside_pool_body = true;
      fn(context, lo, hi);
      t_inside_pool_body = false;
      bool last;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        last = --pending_ == 0;
      }
      if (last) work_done_.notify_one();
    }
  }
}

}  // namespace dse
