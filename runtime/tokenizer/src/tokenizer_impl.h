// TokenizerImpl: the tables and scratch buffers behind Tokenizer (private to the library).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "added_token_matcher.h"
#include "bpe_model.h"
#include "dse/tokenizer/tokenizer_data.h"
#include "nfc_normalizer.h"
#include "pre_tokenizer.h"

namespace dse::tokenizer {

class TokenizerImpl {
 public:
  TokenizerData data;
  BpeModel bpe;
  std::unordered_map<std::string, int32_t> token_ids;  // added contents, then vocab strings
  AddedTokenMatcher raw_matcher;         // added tokens with normalized == false
  AddedTokenMatcher normalized_matcher;  // added tokens with normalized == true
  bool nfc = false;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  NfcNormalizer normalizer;

  // Decode tables: the raw bytes of every id, flattened; special flags.
  std::string id_bytes;
  std::vector<uint32_t> id_offsets;  // id_count + 1 entries
  std::vector<uint8_t> id_flags;     // kValid | kSpecial
  static constexpr uint8_t kValid = 1, kSpecial = 2;

  // Encode scratch, reused across calls.
  std::vector<Segment> raw_segments;
  std::vector<Segment> norm_segments;
  std::string normalized;
  std::vector<Piece> pieces;
};

}  // namespace dse::tokenizer
