// Stop-string matching and UTF-8 holding for streamed text.
#include "dse/runtime/text_streamer.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

namespace dse::runtime {

namespace {

// Bytes at the end of `s` that start a UTF-8 character whose remaining bytes have not come yet.
size_t incomplete_utf8_tail(std::string_view s) {
  const size_t look = std::min<size_t>(s.size(), 3);
  for (size_t back = 1; back <= look; ++back) {
    const auto c = static_cast<unsigned char>(s[s.size() - back]);
    if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    size_t need = 1;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace

Result<TextStreamer> TextStreamer::create(size_t max_piece_bytes) {
  TextStreamer t;
  // Held back at most: a stop string's proper prefix (or 3 bytes of a character), plus a piece.
  t.capacity_ = kMaxStopStringBytes + max_piece_bytes + 8;
  t.buffer_.reset(new (std::nothrow) char[t.capacity_]);
  if (!t.buffer_) {
    return Status(StatusCode::out_of_memory,
                  "text streamer: could not allocate " + std::to_string(t.capacity_) + " bytes");
  }
  return t;
}

Status TextStreamer::begin(std::span<const std::string_view> stop_strings) {
  size_ = 0;
  emitted_ = 0;
  n_stops_ = 0;
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
  const std::string_view held(buffer_.get(), size_);
  size_t keep = incomplete_utf8_tail(held);
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

TextStreamer::Ready TextStreamer::push(std::string_view piece) {
  drop_emitted();
  const size_t n = std::min(piece.size(), capacity_ - size_);
  if (n > 0) std::memcpy(buffer_.get() + size_, piece.data(), n);  // an empty piece may have no data
  size_ += n;

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
  emitted_ = size_;
  return {buffer_.get(), size_};
}

}  // namespace dse::runtime
