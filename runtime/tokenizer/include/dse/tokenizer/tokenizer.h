// Tokenizer: byte-level BPE encode and decode with the same ids as Hugging Face `tokenizers`.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse::tokenizer {

class TokenizerImpl;

// Built once from TokenizerData; owns everything it needs (the data is moved in, regexes are
// compiled, merge and vocabulary tables are built in create). encode() reuses internal scratch
// buffers and a word cache, so one Tokenizer must not be used by two threads at once: give each
// thread its own (create them from copies of the same TokenizerData). decode is const.
//
// Encode pipeline, in Hugging Face's order:
//   1. added tokens that are not `normalized` are found in the raw text (leftmost-longest);
//   2. the text between them is normalized (NFC or nothing), and `normalized` added tokens are
//      found in that;
//   3. what is left goes through the pre-tokenizer steps (Split with PCRE2, Digits, ByteLevel);
//   4. each pre-token is merged by BPE rank (with a word cache).
//
// Invalid UTF-8 input: encode() rejects it with invalid_argument, naming the byte offset, and
// writes no ids. HF `tokenizers` takes Python/Rust strings, which cannot hold invalid UTF-8, so
// there is no HF behaviour to copy; callers that must accept arbitrary bytes can repair them
// first with append_utf8_lossy (dse/tokenizer/utf8.h), which gives what Python's
// bytes.decode("utf-8", "replace") would have passed to HF.
class Tokenizer {
 public:
  // Validates the data (ids in range, merges made of vocabulary entries, patterns compile) and
  // builds the tables. Errors: invalid_argument / unsupported with a message naming the field.
  static Result<Tokenizer> create(TokenizerData data);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Replaces the contents of `out` with the ids of `text`. add_special adds bos_id first when
  // data().add_bos and eos_id last when data().add_eos (what transformers does with
  // add_special_tokens=True). Added/special tokens in the text are always recognised, as HF does.
  Status encode(std::string_view text, bool add_special, std::vector<int32_t>& out);

  // Replaces the contents of `out` with the text of `ids`, exactly as HF's
  // decode(ids, skip_special_tokens) with a ByteLevel decoder: the tokens' bytes are joined and
  // invalid UTF-8 becomes U+FFFD. An id that no token has (e.g. an embedding row past the
  // vocabulary) decodes to nothing, as in HF. Always ok today; Status is kept for the API.
  Status decode(std::span<const int32_t> ids, std::string& out, bool skip_special = false) const;

  // The raw bytes that `id` decodes to (byte-level mapping undone); empty for an unknown id.
  // Borrowed from the tokenizer: valid while it lives.
  std::string_view token_bytes(int32_t id) const;
  bool is_special(int32_t id) const;
  bool is_valid_id(int32_t id) const;
  // Id of an added token's content or of a vocabulary entry (byte-level string), if any.
  std::optional<int32_t> token_to_id(std::string_view token) const;
  // One more than the highest id (model vocabulary and added tokens).
  int32_t id_count() const;

  const TokenizerData& data() const;

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  std::unique_ptr<TokenizerImpl> impl_;
};

}  // namespace dse::tokenizer
