// Verification of the FlatBuffers metadata of an artifact, shared by the writer (which refuses
// to write metadata a reader would reject) and the reader.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "dse/formats/artifact_generated.h"
#include "dse/status.h"

namespace dse::formats {

// Limits for flatbuffers::Verifier. The defaults (1M tables) are sized for small messages; an
// artifact holds a 130k-token vocabulary, its merges, thousands of slots and instructions, so
// the table budget is generous while depth stays low (the schema nests at most ~5 deep).
inline constexpr uint32_t kMetadataMaxDepth = 64;
inline constexpr uint32_t kMetadataMaxTables = 50'000'000;

// FlatBuffers buffers (2.0.8) stop just under 2 GiB: flatbuffers::Verifier asserts
// size < FLATBUFFERS_MAX_BUFFER_SIZE (2^31 - 1), so anything larger is refused before it is built.
inline constexpr uint64_t kMetadataMaxBytes = (uint64_t{1} << 31) - 2;

// Checks that `bytes` is a FlatBuffers buffer with identifier "DSE1" whose Artifact root passes
// verification against artifact.fbs. `source` names where the bytes come from, for messages
// (a file path, or "metadata passed to ArtifactWriter::finish").
// Errors: corrupt_data with a message naming `source` and what failed.
Status verify_metadata(std::span<const uint8_t> bytes, const std::string& source);

}  // namespace dse::formats
