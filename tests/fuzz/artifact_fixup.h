// Makes a mutated artifact consistent again (file size, checksums), so that fuzzing reaches the
// checks behind the checksums: the FlatBuffers verifier, the segment table, the loader, the kernels.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace dse::fuzz {

// Returns a copy of `bytes` with the header's file_size set to the input size, every in-range
// segment checksum recomputed (when the metadata verifies), then the metadata and header
// checksums recomputed. Returns an empty vector when the input is not worth fixing (shorter than
// a header, wrong magic) or when fixing changes nothing.
std::vector<uint8_t> fix_artifact_checksums(std::span<const uint8_t> bytes);

}  // namespace dse::fuzz
