// The greedy arena planner: largest buffer first, lowest offset that fits among the buffers
// whose lifetimes overlap.
#include "dse/compiler/Planner/GreedyMemoryPlanner.h"

#include <algorithm>
#include <numeric>
#include <sstream>

namespace dse::compiler {
namespace {

bool lifetimes_overlap(const PlacedBuffer& a, const PlacedBuffer& b) {
  return a.first_use <= b.last_use && b.first_use <= a.last_use;
}

bool bytes_overlap(const PlacedBuffer& a, const PlacedBuffer& b) {
  if (a.size == 0 || b.size == 0) return false;
  return a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

}  // namespace

std::optional<std::pair<int, int>> find_overlap(const std::vector<PlacedBuffer>& buffers) {
  for (size_t i = 0; i < buffers.size(); ++i)
    for (size_t j = i + 1; j < buffers.size(); ++j)
      if (lifetimes_overlap(buffers[i], buffers[j]) && bytes_overlap(buffers[i], buffers[j]))
        return std::make_pair(int(i), int(j));
  return std::nullopt;
}

GreedyMemoryPlanner::GreedyMemoryPlanner(int64_t alignment_bytes)
    : alignment_(alignment_bytes > 0 ? alignment_bytes : 1) {}

int GreedyMemoryPlanner::add_buffer(int64_t size_bytes, int first_use, int last_use) {
  buffers_.push_back(PlacedBuffer{0, size_bytes, first_use, last_use});
  return int(buffers_.size()) - 1;
}

void GreedyMemoryPlanner::plan() {
  std::vector<int> order(buffers_.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first packs best (TFLite Micro); ties by first use keep the plan deterministic.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (buffers_[a].size != buffers_[b].size) return buffers_[a].size > buffers_[b].size;
    return buffers_[a].first_use < buffers_[b].first_use;
  });
  std::vector<int> placed;
  std::vector<const PlacedBuffer*> live;
  for (int index : order) {
    PlacedBuffer& buffer = buffers_[index];
    live.clear();
    for (int other : placed)
      if (buffers_[other].size > 0 && lifetimes_overlap(buffer, buffers_[other]))
        live.push_back(&buffers_[other]);
    std::sort(live.begin(), live.end(),
              [](const PlacedBuffer* a, const PlacedBuffer* b) { return a->offset < b->offset; });
    int64_t candidate = 0;
    for (const PlacedBuffer* other : live) {
      if (candidate + buffer.size <= other->offset) break;  // the gap before `other` fits
      candidate = std::max(candidate, align_up(other->offset + other->size, alignment_));
    }
    buffer.offset = candidate;
    placed.push_back(index);
  }
}

int64_t GreedyMemoryPlanner::arena_size() const {
  int64_t end = 0;
  for (const PlacedBuffer& b : buffers_) end = std::max(end, b.offset + b.size);
  return align_up(end, alignment_);
}

std::string GreedyMemoryPlanner::describe() const {
  std::ostringstream out;
  for (size_t i = 0; i < buffers_.size(); ++i) {
    const PlacedBuffer& b = buffers_[i];
    out << i << ": offset " << b.offset << " size " << b.size << " live [" << b.first_use << ", "
        << b.last_use << "]\n";
  }
  return out.str();
}

}  // namespace dse::compiler
