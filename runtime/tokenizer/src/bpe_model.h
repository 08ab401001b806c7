// BpeModel: merges the bytes of one pre-token into vocabulary ids by merge rank.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "merge_table.h"
#include "word_cache.h"

namespace dse::tokenizer {

// Works on raw bytes: the byte-level characters of the vocabulary map one-to-one onto bytes, so
// the initial symbols are byte_ids[b] and no byte-level string is ever built while encoding.
class BpeModel {
 public:
  std::array<int32_t, 256> byte_ids{};  // id of the one-character token of each byte
  MergeTable merges;
  bool ignore_merges = false;
  // Raw-byte spelling of every vocabulary entry -> id; filled only when ignore_merges is set.
  std::unordered_map<std::string, int32_t> raw_vocab;

  // Appends the ids of `word` (non-empty raw bytes) to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>& out);

 private:
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    int32_t len;  // bytes covered; 0 once merged into its left neighbour
  };
  struct Merge {
    int32_t pos;
    int32_t rank;
    int32_t merged_id;
  };
  void merge_all(std::string_view word, std::vector<int32_t>& out);

  std::vector<Symbol> symbols_;  // scratch, reused across words
  std::vector<Merge> heap_;      // scratch, reused across words
  std::vector<int32_t> word_ids_;
  WordCache cache_;
};

}  // namespace dse::tokenizer
