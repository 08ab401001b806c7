// Segment table construction; sizes are value-independent because defaults are forced.
#include "dse/formats/segment_table.h"

#include <limits>

namespace dse::formats {

SegmentTableOffset build_segment_table(flatbuffers::FlatBufferBuilder& builder,
                                       std::span<const SegmentInfo> segments) {
  // A default-valued scalar (e.g. offset 0, codec None) would otherwise be omitted, making the
  // table smaller than its placeholder and shifting everything built after it.
  builder.ForceDefaults(true);
  std::vector<flatbuffers::Offset<fb::Segment>> tables;
  tables.reserve(segments.size());
  for (const SegmentInfo& s : segments) {
    tables.push_back(fb::CreateSegment(builder, s.offset, s.stored_size, s.raw_size, s.codec,
                                       s.codec_level, s.checksum));
  }
  return builder.CreateVector(tables);
}

std::vector<SegmentInfo> placeholder_segments(size_t count) {
  SegmentInfo p;
  p.offset = std::numeric_limits<uint64_t>::max();
  p.stored_size = std::numeric_limits<uint64_t>::max();
  p.raw_size = std::numeric_limits<uint64_t>::max();
  p.codec = fb::Codec::Zstd;
  p.codec_level = std::numeric_limits<int32_t>::max();
  p.checksum = std::numeric_limits<uint64_t>::max();
  return std::vector<SegmentInfo>(count, p);
}

}  // namespace dse::formats
