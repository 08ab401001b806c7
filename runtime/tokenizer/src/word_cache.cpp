// WordCache implementation: linear probing on the word hash.
#include "word_cache.h"

#include <cstring>

namespace dse::tokenizer {

WordCache::WordCache() { clear(); }

void WordCache::clear() {
  table_.assign(kSlots, Entry{0, 0, kEmpty, 0, 0});
  keys_.clear();
  ids_.clear();
  entries_ = 0;
}

bool WordCache::find(std::string_view word, uint64_t hash, const int32_t*& ids,
                     size_t& count) const {
  for (size_t i = hash & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    const Entry& e = table_[i];
    if (e.ids_offset == kEmpty) return false;
    if (e.hash == hash && e.key_size == word.size() &&
        std::memcmp(keys_.data() + e.key_offset, word.data(), word.size()) == 0) {
      ids = ids_.data() + e.ids_offset;
      count = e.ids_count;
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, uint64_t hash, const int32_t* ids, size_t count) {
  if (word.size() > kMaxWordBytes || count > kMaxWordBytes) return;
  if (entries_ >= kMaxEntries || keys_.size() + word.size() > kMaxArenaBytes ||
      (ids_.size() + count) * sizeof(int32_t) > kMaxArenaBytes) {
    clear();
  }
  size_t i = hash & (kSlots - 1);
  while (table_[i].ids_offset != kEmpty) i = (i + 1) & (kSlots - 1);
  Entry& e = table_[i];
  e.hash = hash;
  e.key_offset = static_cast<uint32_t>(keys_.size());
  e.key_size = static_cast<uint16_t>(word.size());
  e.ids_offset = static_cast<uint32_t>(ids_.size());
  e.ids_count = static_cast<uint16_t>(count);
  keys_.append(word);
  ids_.insert(ids_.end(), ids, ids + count);
  ++entries_;
}

}  // namespace dse::tokenizer
