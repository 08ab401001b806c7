// fix_artifact_checksums: recomputes what a random mutation breaks first, in dependency order
// (segment checksums live inside the metadata, the metadata checksum lives in the header).
#include "artifact_fixup.h"

#include <algorithm>
#include <cstring>

#include "dse/formats/artifact_generated.h"
#include "dse/formats/checksum.h"
#include "dse/formats/header.h"
#include "dse/formats/metadata.h"

namespace dse::fuzz {

std::vector<uint8_t> fix_artifact_checksums(std::span<const uint8_t> bytes) {
  using namespace dse::formats;
  if (bytes.size() < kHeaderSize || !std::equal(kArtifactMagic.begin(), kArtifactMagic.end(), bytes.begin())) {
    return {};
  }
  std::vector<uint8_t> out(bytes.begin(), bytes.end());
  ArtifactHeader h = decode_header(std::span<const uint8_t, kHeaderSize>(out.data(), kHeaderSize));
  h.file_size = out.size();
  const bool metadata_in_range = h.metadata_offset >= kHeaderSize && h.metadata_offset <= out.size() &&
                                 h.metadata_size <= out.size() - h.metadata_offset;
  if (metadata_in_range) {
    const std::span<uint8_t> metadata(out.data() + h.metadata_offset, h.metadata_size);
    if (h.metadata_offset % 8 == 0 && verify_metadata(metadata, "fuzz").ok()) {
      const fb::Artifact* artifact = fb::GetArtifact(metadata.data());
      if (artifact->segments() != nullptr) {
        for (const fb::Segment* s : *artifact->segments()) {
          if (s->offset() > out.size() || s->stored_size() > out.size() - s->offset()) continue;
          const uint64_t sum = xxhash64(std::span<const uint8_t>(out.data() + s->offset(), s->stored_size()));
          // The generated accessors are read-only; the table underneath is writable in our copy.
          // Segment inherits privately from flatbuffers::Table, hence the reinterpret_cast.
          auto* table = reinterpret_cast<flatbuffers::Table*>(const_cast<fb::Segment*>(s));
          table->SetField<uint64_t>(fb::Segment::VT_CHECKSUM, sum, 0);
        }
      }
    }
    h.metadata_checksum = xxhash64(std::span<const uint8_t>(metadata.data(), metadata.size()));
  }
  const HeaderBytes header = encode_header(h);
  std::memcpy(out.data(), header.data(), header.size());
  if (std::equal(out.begin(), out.end(), bytes.begin())) return {};
  return out;
}

}  // namespace dse::fuzz
