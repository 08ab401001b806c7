// TokenizerData: everything a byte-level BPE tokenizer needs, as plain values (no FlatBuffers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dse::tokenizer {

// Mirrors the AddedToken table of formats/artifact.fbs. The flags mean what they mean in Hugging
// Face `tokenizers`: lstrip/rstrip swallow whitespace beside a match, single_word matches only
// outside words, normalized matches against the normalized text instead of the raw input.
struct AddedToken {
  uint32_t id = 0;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

// Mirrors the PreTokenizerStep table: one step of tokenizer.json's pre_tokenizer, in order.
struct PreTokenizerStep {
  std::string kind;      // "split", "byte_level", "digits"
  std::string pattern;   // split: the regex in PCRE2 syntax (already translated from HF's)
  std::string behavior;  // split/digits: "isolated", "removed", "merged_with_previous",
                         // "merged_with_next", "contiguous"
  bool invert = false;
  bool add_prefix_space = false;   // byte_level
  bool use_regex = false;          // byte_level: also split with the GPT-2 pattern
  bool individual_digits = false;  // digits
};

// Mirrors the ChatFormat table: a turn is rendered as prefix + content + suffix.
struct ChatFormat {
  std::string begin;             // once at the start of a conversation (e.g. the BOS text)
  std::string system_prefix;
  std::string system_suffix;
  std::string user_prefix;
  std::string user_suffix;
  std::string assistant_prefix;  // also the generation prompt
  std::string assistant_suffix;
  std::string template_source;   // the Jinja template it was derived from, verbatim
};

// Mirrors the Tokenizer table. The compiler fills it from tokenizer.json (load_tokenizer_json)
// and writes it into the artifact; the runtime rebuilds it from the artifact and hands it to
// Tokenizer::create.
struct TokenizerData {
  std::string model = "bpe";
  // The model's vocabulary: index = token id, byte-level (GPT-2 mapped) strings. Ids that the
  // model does not define are empty strings. Added tokens may have ids >= vocab.size().
  std::vector<std::string> vocab;
  // "left right" (byte-level strings separated by one space); index = rank (0 merges first).
  std::vector<std::string> merges;
  std::vector<AddedToken> added_tokens;
  std::string normalizer;                     // "" (none) or "nfc"
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::string decoder = "byte_level";
  int64_t bos_id = -1;
  int64_t eos_id = -1;
  int64_t pad_id = -1;
  bool add_bos = false;  // encode(add_special = true) puts bos_id first
  bool add_eos = false;  // encode(add_special = true) puts eos_id last
  bool ignore_merges = false;  // a whole pre-token found in vocab is taken as is, before merging
  ChatFormat chat;
};

}  // namespace dse::tokenizer
