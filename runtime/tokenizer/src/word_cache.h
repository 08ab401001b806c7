// WordCache: pre-token bytes -> BPE ids, so repeated words skip merging.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dse::tokenizer {

// Open-addressing table whose keys and values live in two flat arenas: an insert appends, it
// never allocates per entry. When it is full it is cleared wholesale (cheaper than LRU and, as
// in HF, the cache only changes speed, never results). Memory bound: ~3 MiB table + arenas up to
// kMaxArenaBytes.
class WordCache {
 public:
  static constexpr size_t kMaxWordBytes = 64;  // longer words are rare; merge them every time

  WordCache();

  // On a hit, points `ids`/`count` into the cache (valid until the next insert or clear).
  bool find(std::string_view word, uint64_t hash, const int32_t*& ids, size_t& count) const;
  void insert(std::string_view word, uint64_t hash, const int32_t* ids, size_t count);
  void clear();

 private:
  struct Entry {
    uint64_t hash;
    uint32_t key_offset;
    uint32_t ids_offset;  // kEmpty when the slot is free
    uint16_t key_size;
    uint16_t ids_count;
  };
  static constexpr uint32_t kEmpty = ~uint32_t{0};
  static constexpr size_t kSlots = size_t{1} << 17;
  static constexpr size_t kMaxEntries = kSlots / 2;
  static constexpr size_t kMaxArenaBytes = size_t{8} << 20;

  std::vector<Entry> table_;
  std::string keys_;
  std::vector<int32_t> ids_;
  size_t entries_ = 0;
};

}  // namespace dse::tokenizer
