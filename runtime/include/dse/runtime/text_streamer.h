// Holds back generated text until it is final: not the start of a stop string, not half of a
// UTF-8 character. Fixed capacity, taken once, so streaming a token allocates nothing.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

#include "dse/status.h"

namespace dse::runtime {

class TextStreamer {
 public:
  // The longest stop string a generate call may pass, in bytes.
  static constexpr size_t kMaxStopStringBytes = 512;
  static constexpr size_t kMaxStopStrings = 16;

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

  // Adds the text of one token. Errors never happen for pieces up to max_piece_bytes; longer
  // ones are cut (the caller sizes the streamer from the vocabulary).
  Ready push(std::string_view piece);

  // The end of a generation without a stop string: everything still held back.
  std::string_view finish();

 private:
  void drop_emitted();
  size_t held_back_bytes() const;

  std::unique_ptr<char[]> buffer_;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t emitted_ = 0;  // bytes at the front handed out by the last call, dropped on the next
  std::string_view stops_[kMaxStopStrings];
  size_t n_stops_ = 0;
};

}  // namespace dse::runtime
