// zstd encoding and decoding of segments, streamed in bounded chunks (private to dse_formats).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "dse/status.h"

namespace dse::formats::detail {

// Receives each piece of compressed output as it is produced.
using ByteSink = std::function<Status(std::span<const std::byte>)>;

// One zstd frame per segment. The context is reused from segment to segment; its memory is
// bounded by the level's window, never by the segment size.
class ZstdEncoder {
 public:
  ZstdEncoder();
  ~ZstdEncoder();
  ZstdEncoder(ZstdEncoder&& other) noexcept;
  ZstdEncoder& operator=(ZstdEncoder&& other) noexcept;
  ZstdEncoder(const ZstdEncoder&) = delete;
  ZstdEncoder& operator=(const ZstdEncoder&) = delete;

  // Starts a frame. `pledged_size` (bytes), when known, is recorded in the frame header.
  Status begin(int level, std::optional<uint64_t> pledged_size);
  // Feeds `input`; `last` closes the frame. Output goes to `sink` as it fills.
  Status compress(std::span<const std::byte> input, bool last, const ByteSink& sink);

 private:
  void* ctx_ = nullptr;  // ZSTD_CCtx
  std::vector<std::byte> out_;
};

// zstd levels this build accepts, inclusive.
int zstd_min_level();
int zstd_max_level();

// Decodes the zstd frame(s) in `src` into `dst`, which must come out exactly full.
// `what` names the segment for messages ("segment 3 of 'model.dse'").
Status zstd_decode(std::span<const std::byte> src, std::span<std::byte> dst, const std::string& what);

}  // namespace dse::formats::detail
