// AddedTokenMatcher: byte trie + HF AddedVocabulary::find_matches rules.
#include "added_token_matcher.h"

#include <algorithm>

#include "unicode_props.h"

namespace dse::tokenizer {

void AddedTokenMatcher::add(std::string_view pattern, const AddedToken& token) {
  if (pattern.empty()) return;  // HF ignores empty added tokens
  int32_t node = 0;
  for (unsigned char b : pattern) {
    int32_t next = child(node, b);
    if (next < 0) {
      next = static_cast<int32_t>(nodes_.size());
      nodes_.push_back(Node{});
      edges_.emplace((static_cast<uint64_t>(node) << 8) | b, next);
    }
    node = next;
  }
  // The first token with a given pattern wins, as Aho-Corasick reports the first pattern.
  if (nodes_[node].token < 0) {
    nodes_[node].token = static_cast<int32_t>(tokens_.size());
    tokens_.push_back(token);
  }
  first_byte_[static_cast<unsigned char>(pattern[0])] = true;
}

void AddedTokenMatcher::split(std::string_view text, std::vector<Segment>& out) const {
  out.clear();
  const size_t n = text.size();
  if (n == 0) return;
  size_t start_offset = 0;  // end of the last emitted segment
  size_t pos = 0;           // where the next search starts (end of the last trie match)
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  while (pos < n && !tokens_.empty()) {
    // Leftmost position where some pattern matches, longest pattern there.
    size_t match_begin = n, match_end = 0;
    int32_t match_token = -1;
    for (size_t i = pos; i < n; ++i) {
      if (!first_byte_[p[i]]) continue;
      int32_t node = 0;
      for (size_t j = i; j < n; ++j) {
        node = child(node, p[j]);
        if (node < 0) break;
        if (nodes_[node].token >= 0) {
          match_token = nodes_[node].token;
          match_end = j + 1;
        }
      }
      if (match_token >= 0) {
        match_begin = i;
        break;
      }
    }
    if (match_token < 0) break;
    pos = match_end;
    const AddedToken& token = tokens_[match_token];
    size_t start = match_begin, stop = match_end;
    if (token.single_word) {
      size_t len = 0;
      const bool start_space = start == 0 || !is_word_char(decode_utf8_before(text, start, len));
      const bool stop_space = stop == n || !is_word_char(decode_utf8_at(text, stop, len));
      if (!start_space || !stop_space) continue;  // inside a word: not this token
    }
    if (token.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t len = 0;
        if (!is_white_space(decode_utf8_before(text, s, len))) break;
        s -= len;
      }
      start = std::max(s, start_offset);  // spaces already taken by the previous match stay
    }
    if (token.rstrip) {
      while (stop < n) {
        size_t len = 0;
        if (!is_white_space(decode_utf8_at(text, stop, len))) break;
        stop += len;
      }
    }
    if (start_offset < start) {
      out.push_back(Segment{-1, static_cast<uint32_t>(start_offset), static_cast<uint32_t>(start)});
    }
    out.push_back(Segment{static_cast<int32_t>(token.id), static_cast<uint32_t>(start),
                          static_cast<uint32_t>(stop)});
    start_offset = stop;
  }
  if (start_offset < n) {
    out.push_back(Segment{-1, static_cast<uint32_t>(start_offset), static_cast<uint32_t>(n)});
  }
}

}  // namespace dse::tokenizer
