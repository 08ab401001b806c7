// StreamDecoder: turns ids into text one at a time, never emitting half a UTF-8 character.
#pragma once

#include <cstdint>
#include <string>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer.h"

namespace dse::tokenizer {

// Borrows the tokenizer, which must outlive the decoder. Bytes of a character that is split over
// several tokens are held back until the character is complete. Concatenating everything push()
// and finish() append gives exactly Tokenizer::decode of all the ids (invalid sequences become
// U+FFFD as soon as they are known to be invalid). Holds at most 3 pending bytes.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(&tokenizer), skip_special_(skip_special) {}

  // Appends to `out` the text that became complete with `id` (possibly nothing). An id that no
  // token has adds nothing, as in Tokenizer::decode.
  Status push(int32_t id, std::string& out);

  // Appends what is still pending (an unfinished character becomes U+FFFD) and resets.
  void finish(std::string& out);

  // Drops pending bytes, e.g. when a generation is cancelled.
  void reset() { pending_.clear(); }

  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  std::string pending_;
};

}  // namespace dse::tokenizer
