// MergeTable: (left id, right id) -> (rank, merged id), open addressing, built once.
#pragma once

#include <cstdint>
#include <vector>

namespace dse::tokenizer {

// A flat hash table: BPE looks a pair up for every adjacent symbol pair of every new word, so
// this is the hottest lookup of encode. Linear probing over a power-of-two table at most half
// full; keys are (left << 32 | right), never all-ones (ids are < 2^31).
class MergeTable {
 public:
  struct Value {
    int32_t rank;
    int32_t merged_id;
  };

  void reserve(size_t count) {
    size_t cap = 16;
    while (cap < count * 2) cap <<= 1;
    keys_.assign(cap, kEmpty);
    values_.assign(cap, Value{-1, -1});
    mask_ = cap - 1;
    shift_ = 64;
    for (size_t c = cap; c > 1; c >>= 1) --shift_;
  }

  // A repeated pair keeps the last insertion: HF collects the merges into a HashMap, where a
  // later (higher-rank) duplicate overwrites the earlier one.
  void insert(int32_t left, int32_t right, Value v) {
    const uint64_t key = make_key(left, right);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) {
        values_[i] = v;
        return;
      }
      if (keys_[i] == kEmpty) {
        keys_[i] = key;
        values_[i] = v;
        return;
      }
    }
  }

  const Value* find(int32_t left, int32_t right) const {
    const uint64_t key = make_key(left, right);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      if (keys_[i] == key) return &values_[i];
      if (keys_[i] == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t make_key(int32_t l, int32_t r) {
    return (uint64_t{static_cast<uint32_t>(l)} << 32) | static_cast<uint32_t>(r);
  }
  size_t slot(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ULL) >> shift_);  // Fibonacci hashing
  }
  std::vector<uint64_t> keys_;
  std::vector<Value> values_;
  size_t mask_ = 0;
  int shift_ = 64;
};

}  // namespace dse::tokenizer
