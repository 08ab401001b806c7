// Where one segment lies in an artifact and how it is encoded: one row of the Segment table.
#pragma once

#include <cstdint>

#include "dse/formats/artifact_generated.h"

namespace dse::formats {

struct SegmentInfo {
  uint64_t offset = 0;          // bytes from the start of the file; a multiple of 4096
  uint64_t stored_size = 0;     // bytes in the file
  uint64_t raw_size = 0;        // bytes after decoding; == stored_size for Codec::None
  fb::Codec codec = fb::Codec::None;
  int32_t codec_level = 0;      // zstd level used; 0 for None; informational
  uint64_t checksum = 0;        // xxHash64 (seed 0) of the stored bytes

  friend bool operator==(const SegmentInfo&, const SegmentInfo&) = default;
};

}  // namespace dse::formats
