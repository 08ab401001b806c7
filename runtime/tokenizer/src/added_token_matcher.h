// AddedTokenMatcher: finds added tokens in text the way HF's AddedVocabulary does.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dse/tokenizer/tokenizer_data.h"

namespace dse::tokenizer {

// One piece of the text: an added token (id >= 0) or plain text (id == -1), as byte offsets.
struct Segment {
  int32_t id;
  uint32_t begin;
  uint32_t end;
};

// Leftmost-longest matching over a byte trie (what HF's Aho-Corasick with
// MatchKind::LeftmostLongest finds), then HF's single_word / lstrip / rstrip rules.
class AddedTokenMatcher {
 public:
  // `pattern` is the text to look for (the content, or its normalized form).
  void add(std::string_view pattern, const AddedToken& token);
  bool empty() const { return tokens_.empty(); }

  // Replaces `out` with segments covering all of `text` (valid UTF-8), in order. Plain-text
  // segments are never empty; an empty text gives no segments.
  void split(std::string_view text, std::vector<Segment>& out) const;

 private:
  struct Node {
    int32_t token = -1;  // index into tokens_ when a pattern ends here
  };
  int32_t child(int32_t node, unsigned char b) const {
    auto it = edges_.find((static_cast<uint64_t>(node) << 8) | b);
    return it == edges_.end() ? -1 : it->second;
  }

  std::vector<Node> nodes_{Node{}};  // node 0 is the root
  std::unordered_map<uint64_t, int32_t> edges_;  // (node << 8 | byte) -> child node
  std::array<bool, 256> first_byte_{};
  std::vector<AddedToken> tokens_;
};

}  // namespace dse::tokenizer
