// BPE merging in the same order as HF tokenizers' Word::merge_all (lowest rank, then leftmost).
#include "bpe_model.h"

#include <algorithm>

#include <xxhash.h>

namespace dse::tokenizer {
namespace {

// std heap functions build a max-heap; "greater" here means "merged later" so that the top is
// the lowest rank, ties going to the leftmost position, as HF's Merge ordering says.
struct MergeLater {
  template <typename M>
  bool operator()(const M& a, const M& b) const {
    if (a.rank != b.rank) return a.rank > b.rank;
    return a.pos > b.pos;
  }
};

}  // namespace

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) {
  if (word.size() == 1) {
    out.push_back(byte_ids[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (ignore_merges) {
    auto it = raw_vocab.find(std::string(word));
    if (it != raw_vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= WordCache::kMaxWordBytes;
  uint64_t hash = 0;
  if (cacheable) {
    hash = XXH3_64bits(word.data(), word.size());
    const int32_t* ids = nullptr;
    size_t count = 0;
    if (cache_.find(word, hash, ids, count)) {
      out.insert(out.end(), ids, ids + count);
      return;
    }
  }
  word_ids_.clear();
  merge_all(word, word_ids_);
  if (cacheable) cache_.insert(word, hash, word_ids_.data(), word_ids_.size());
  out.insert(out.end(), word_ids_.begin(), word_ids_.end());
}

void BpeModel::merge_all(std::string_view word, std::vector<int32_t>& out) {
  const int32_t n = static_cast<int32_t>(word.size());
  symbols_.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    symbols_[i] = Symbol{byte_ids[static_cast<unsigned char>(word[i])], i - 1,
                         i + 1 < n ? i + 1 : -1, 1};
  }
  heap_.clear();
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (const MergeTable::Value* m = merges.find(symbols_[i].id, symbols_[i + 1].id)) {
      heap_.push_back(Merge{i, m->rank, m->merged_id});
    }
  }
  std::make_heap(heap_.begin(), heap_.end(), MergeLater{});

  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), MergeLater{});
    const Merge top = heap_.back();
    heap_.pop_back();
    Symbol& cur = symbols_[top.pos];
    if (cur.len == 0 || cur.next == -1) continue;  // merged away, or the last symbol
    const int32_t next_pos = cur.next;
    const Symbol right = symbols_[next_pos];
    // A stale entry: the pair at this position has changed since it was queued.
    const MergeTable::Value* now = merges.find(cur.id, right.id);
    if (now == nullptr || now->merged_id != top.merged_id) continue;

    cur.id = top.merged_id;
    cur.len += right.len;
    cur.next = right.next;
    symbols_[next_pos].len = 0;
    if (right.next >= 0) symbols_[right.next].prev = top.pos;

    if (cur.prev >= 0) {
      if (const MergeTable::Value* m = merges.find(symbols_[cur.prev].id, cur.id)) {
        heap_.push_back(Merge{cur.prev, m->rank, m->merged_id});
        std::push_heap(heap_.begin(), heap_.end(), MergeLater{});
      }
    }
    if (cur.next >= 0) {
      if (const MergeTable::Value* m = merges.find(cur.id, symbols_[cur.next].id)) {
        heap_.push_back(Merge{top.pos, m->rank, m->merged_id});
        std::push_heap(heap_.begin(), heap_.end(), MergeLater{});
      }
    }
  }
  for (int32_t i = 0; i >= 0; i = symbols_[i].next) out.push_back(symbols_[i].id);
}

}  // namespace dse::tokenizer
