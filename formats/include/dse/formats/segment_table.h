// Builds the Artifact.segments vector from what the writer reports, including the placeholder
// version the compiler uses to measure the metadata before any segment is written.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include <flatbuffers/flatbuffers.h>

#include "dse/formats/segment_info.h"

namespace dse::formats {

using SegmentTableOffset =
    flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Segment>>>;

// Adds one Segment table per entry and the vector holding them. Turns force_defaults on in
// `builder` so that a Segment's size never depends on its values (a zero offset or codec None
// would otherwise be left out); turn it on yourself when you create the builder, so that every
// table built before this call behaves the same. The placeholder metadata then has exactly the
// size of the final one.
SegmentTableOffset build_segment_table(flatbuffers::FlatBufferBuilder& builder,
                                       std::span<const SegmentInfo> segments);

// `count` segments with all-ones values: what to pass to build_segment_table when measuring the
// metadata for ArtifactWriter::create before the real offsets and checksums exist.
std::vector<SegmentInfo> placeholder_segments(size_t count);

}  // namespace dse::formats
