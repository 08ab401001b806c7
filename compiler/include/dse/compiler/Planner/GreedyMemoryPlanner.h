// A greedy arena planner in the spirit of TFLite Micro's: buffers with lifetimes get offsets so
// that no two buffers live at the same time share bytes. Plain C++, no MLIR, so it can be tested
// on random lifetimes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dse::compiler {

// A buffer placed in an arena. Lifetimes are inclusive indices into the linear schedule.
struct PlacedBuffer {
  int64_t offset = 0;  // bytes
  int64_t size = 0;    // bytes
  int first_use = 0;
  int last_use = 0;
};

// The first pair (i < j) of buffers live at the same time whose byte ranges intersect, if any.
std::optional<std::pair<int, int>> find_overlap(const std::vector<PlacedBuffer>& buffers);

class GreedyMemoryPlanner {
 public:
  // `alignment_bytes` must be a power of two; every offset is a multiple of it.
  explicit GreedyMemoryPlanner(int64_t alignment_bytes);

  // Adds a buffer used from schedule step `first_use` to `last_use` (inclusive) and returns its
  // index. Sizes of zero are allowed and take no space.
  int add_buffer(int64_t size_bytes, int first_use, int last_use);

  // Places all buffers: largest first, each at the lowest aligned offset that does not
  // intersect a placed buffer whose lifetime overlaps its own.
  void plan();

  int64_t offset(int index) const { return buffers_[index].offset; }
  const std::vector<PlacedBuffer>& buffers() const { return buffers_; }
  // Bytes the arena needs: the highest end offset of any buffer.
  int64_t arena_size() const;
  // One line per buffer: index, offset, size, lifetime.
  std::string describe() const;

 private:
  int64_t alignment_;
  std::vector<PlacedBuffer> buffers_;
};

inline int64_t align_up(int64_t value, int64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace dse::compiler
