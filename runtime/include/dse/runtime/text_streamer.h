// Holds back generated text until it is final: not the start of a stop string, not half of a
// UTF-8 character; invalid UTF-8 becomes U+FFFD exactly as Tokenizer::decode does it. Fixed
// capacity, taken once, so streaming a token allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "dse/status.h"

namespace dse::runtime {

class TextStreamer {
 public:
  // The longest stop string a generate call may pass, in bytes.
  static constexpr size_t kMaxStopStringBytes = 512;
  static constexpr size_t kMaxStopStrings = 16;
  // Repaired text is at most 3 times as long as the bytes it came from (one invalid byte becomes
  // the 3 bytes of U+FFFD): buffers are sized with this factor.
  static constexpr size_t kExpansion = 3;

  // `max_piece_bytes`: the longest text one token can decode to.
  static Result<TextStreamer> create(size_t max_piece_bytes);

  // Starts a new generation with these stop strings (borrowed: they must outlive the
  // generation). Empty strings are ignored. Errors: invalid_argument when there are more than
  // kMaxStopStrings or one is longer than kMaxStopStringBytes.
  Status begin(std::span<const std::string_view> stop_strings);

  struct Ready {
    std::string_view text;       // final text, valid until the next push/finish/begin
    bool stop_matched = false;   // a stop string was found; `text` ends just before it
  };

  // Adds the raw bytes of one token. Only valid UTF-8 ever comes out: every maximal invalid
  // subpart becomes one U+FFFD (utf8.h's append_utf8_lossy, the rule of Tokenizer::decode and of
  // Hugging Face), and the bytes of a character that the next token may still complete (at most
  // 3) wait. Errors never happen for pieces up to max_piece_bytes; longer ones are cut (the
  // caller sizes the streamer from the vocabulary).
  Ready push(std::string_view piece);

  // The end of a generation without a stop string: everything still held back, an unfinished
  // character at the end as one U+FFFD.
  std::string_view finish();

 private:
  void drop_emitted();
  size_t held_back_bytes() const;
  // Appends `bytes` (valid UTF-8 after repair) to the buffer, within its capacity.
  void append_repaired(std::string_view bytes);

  // buffer_[0, size_) is always valid UTF-8; the bytes of an unfinished character wait in pending_.
  std::unique_ptr<char[]> buffer_;
  // Reserved at create(): append_utf8_lossy writes into these within their capacity, so a push
  // never allocates. raw_ holds pending_ + the piece, repaired_ the repaired text.
  std::string raw_, repaired_;
  char pending_[4] = {0, 0, 0, 0};
  size_t n_pending_ = 0;
  size_t max_piece_bytes_ = 0;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t emitted_ = 0;  // bytes at the front handed out by the last call, dropped on the next
  std::string_view stops_[kMaxStopStrings];
  size_t n_stops_ = 0;
};

}  // namespace dse::runtime
