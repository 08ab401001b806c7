// FlatBuffers verification of artifact metadata with limits sized for real vocabularies.
#include "dse/formats/metadata.h"

#include <flatbuffers/verifier.h>

namespace dse::formats {
namespace {

std::string printable_identifier(const uint8_t* id) {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>(id[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[id[i] >> 4];
      out += kHex[id[i] & 0xf];
    }
  }
  return out;
}

}  // namespace

Status verify_metadata(std::span<const uint8_t> bytes, const std::string& source) {
  // Root offset (4 bytes) + identifier (4 bytes) is the smallest thing worth looking at.
  if (bytes.size() < 8) {
    return Status(StatusCode::corrupt_data,
                  source + ": metadata is " + std::to_string(bytes.size()) +
                      " bytes, too small for a FlatBuffers buffer (at least 8); the artifact is "
                      "corrupt: recompile it with dsc");
  }
  if (bytes.size() > kMetadataMaxBytes) {
    return Status(StatusCode::corrupt_data,
                  source + ": metadata is " + std::to_string(bytes.size()) +
                      " bytes, over the FlatBuffers limit of " + std::to_string(kMetadataMaxBytes) +
                      "; weights belong in segments, not in the metadata");
  }
  if (!fb::ArtifactBufferHasIdentifier(bytes.data())) {
    return Status(StatusCode::corrupt_data,
                  source + ": metadata has FlatBuffers identifier '" +
                      printable_identifier(bytes.data() + 4) + "', expected '" +
                      fb::ArtifactIdentifier() +
                      "'; the file was not written by dsc or is corrupt: recompile it");
  }
  flatbuffers::Verifier::Options options;
  options.max_depth = kMetadataMaxDepth;
  options.max_tables = kMetadataMaxTables;
  options.check_alignment = true;
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), options);
  if (!fb::VerifyArtifactBuffer(verifier)) {
    return Status(StatusCode::corrupt_data,
                  source + ": metadata (" + std::to_string(bytes.size()) +
                      " bytes) failed FlatBuffers verification against artifact.fbs: a table, "
                      "vector or string points outside the buffer or is misaligned; the "
                      "artifact is corrupt or not from a compatible dsc: recompile it");
  }
  return Status::Ok();
}

}  // namespace dse::formats
