// Stop-string matching and UTF-8 holding for streamed text.
#include "dse/runtime/text_streamer.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "dse/tokenizer/utf8.h"

namespace dse::runtime {

Result<TextStreamer> TextStreamer::create(size_t max_piece_bytes) {
  TextStreamer t;
  t.max_piece_bytes_ = max_piece_bytes;
  // Held back at most: a stop string's proper prefix, plus one repaired piece (pending bytes
  // included), which is at most kExpansion times its raw bytes.
  const size_t raw_capacity = max_piece_bytes + sizeof(t.pending_);
  t.capacity_ = kMaxStopStringBytes + kExpansion * raw_capacity + 8;
  t.buffer_.reset(new (std::nothrow) char[t.capacity_]);
  if (!t.buffer_) {
    return Status(StatusCode::out_of_memory,
                  "text streamer: could not allocate " + std::to_string(t.capacity_) + " bytes");
  }
  try {
    t.raw_.reserve(raw_capacity);
    t.repaired_.reserve(kExpansion * raw_capacity);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::out_of_memory, "text streamer: could not allocate " +
                                                 std::to_string((kExpansion + 1) * raw_capacity) + " bytes");
  }
  return t;
}

Status TextStreamer::begin(std::span<const std::string_view> stop_strings) {
  size_ = 0;
  emitted_ = 0;
  n_stops_ = 0;
  n_pending_ = 0;
  for (std::string_view s : stop_strings) {
    if (s.empty()) continue;
    if (s.size() > kMaxStopStringBytes) {
      return Status(StatusCode::invalid_argument,
                    "stop string of " + std::to_string(s.size()) + " bytes is longer than the " +
                        std::to_string(kMaxStopStringBytes) + " bytes supported; shorten it");
    }
    if (n_stops_ == kMaxStopStrings) {
      return Status(StatusCode::invalid_argument,
                    "more than " + std::to_string(kMaxStopStrings) + " stop strings; pass at most that many");
    }
    stops_[n_stops_++] = s;
  }
  return Status::Ok();
}

void TextStreamer::drop_emitted() {
  if (emitted_ == 0) return;
  std::memmove(buffer_.get(), buffer_.get() + emitted_, size_ - emitted_);
  size_ -= emitted_;
  emitted_ = 0;
}

size_t TextStreamer::held_back_bytes() const {
  // An unfinished character waits in pending_, so only stop-string prefixes are held here.
  const std::string_view held(buffer_.get(), size_);
  size_t keep = 0;
  for (size_t i = 0; i < n_stops_; ++i) {
    const std::string_view stop = stops_[i];
    // The longest suffix of `held` that is a proper prefix of `stop`.
    for (size_t len = std::min(stop.size() - 1, held.size()); len > keep; --len) {
      if (held.substr(held.size() - len) == stop.substr(0, len)) {
        keep = len;
        break;
      }
    }
  }
  return keep;
}

void TextStreamer::append_repaired(std::string_view bytes) {
  repaired_.clear();
  tokenizer::append_utf8_lossy(bytes, repaired_);  // within repaired_'s reserved capacity
  // Never cuts: capacity_ covers the held-back stop prefix plus one repaired piece. The guard only
  // keeps a caller that broke the max_piece_bytes contract inside the buffer.
  const size_t n = std::min(repaired_.size(), capacity_ - size_);
  if (n > 0) std::memcpy(buffer_.get() + size_, repaired_.data(), n);
  size_ += n;
}

TextStreamer::Ready TextStreamer::push(std::string_view piece) {
  drop_emitted();
  // raw_ = the pending bytes of an unfinished character + this piece (cut to max_piece_bytes_).
  raw_.assign(pending_, n_pending_);
  raw_.append(piece.data(), std::min(piece.size(), max_piece_bytes_));
  // What more bytes cannot change (complete characters, definitely invalid bytes) goes out now;
  // the rest (at most 3 bytes, the start of a character) waits for the next piece.
  const size_t complete = tokenizer::utf8_complete_prefix(raw_);
  n_pending_ = raw_.size() - complete;
  if (n_pending_ > 0) std::memcpy(pending_, raw_.data() + complete, n_pending_);
  append_repaired(std::string_view(raw_).substr(0, complete));

  const std::string_view held(buffer_.get(), size_);
  size_t first_match = std::string_view::npos;
  for (size_t i = 0; i < n_stops_; ++i) {
    first_match = std::min(first_match, held.find(stops_[i]));
  }
  if (first_match != std::string_view::npos) {
    emitted_ = size_;  // the stop string and whatever followed it are dropped
    return {held.substr(0, first_match), true};
  }
  emitted_ = size_ - held_back_bytes();
  return {held.substr(0, emitted_), false};
}

std::string_view TextStreamer::finish() {
  drop_emitted();
  // An unfinished character at the end is invalid: one U+FFFD, as Tokenizer::decode gives.
  append_repaired(std::string_view(pending_, n_pending_));
  n_pending_ = 0;
  emitted_ = size_;
  return {buffer_.get(), size_};
}

}  // namespace dse::runtime
