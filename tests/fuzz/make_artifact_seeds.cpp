// fuzz_make_artifact_seeds: writes the hand-made part of the artifact seed corpus
// (tests/fixtures/fuzz-corpus/artifact/): the runtime tests' tiny models, valid and with each of
// their loader breakages, plus damaged copies that each stop at a different reader check.
// dsc-compiled seeds come from scripts/fuzz --make-seeds, which runs this program too.
//   fuzz_make_artifact_seeds OUT_DIR
// Names carry no .dse suffix: the repository ignores *.dse files.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "artifact_fixup.h"
#include "dse/formats/artifact_generated.h"
#include "dse/formats/checksum.h"
#include "dse/formats/header.h"
#include "tiny_model.h"

namespace {

namespace fs = std::filesystem;
using dse::test::TinyModelSpec;

std::vector<uint8_t> read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool write_all(const fs::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  return bool(out);
}

// Rewrites the header through encode_header, so its checksum matches the edited numbers.
void edit_header(std::vector<uint8_t>& bytes, void (*edit)(dse::formats::ArtifactHeader&)) {
  using namespace dse::formats;
  ArtifactHeader h = decode_header(std::span<const uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  edit(h);
  const HeaderBytes enc = encode_header(h);
  std::memcpy(bytes.data(), enc.data(), enc.size());
}

// Sets the size and alignment of region `kind` in the metadata, then makes every checksum match
// again: a well-formed file whose only lie is that region's size.
bool set_region(std::vector<uint8_t>& bytes, dse::fb::RegionKind kind, uint64_t size, uint64_t alignment) {
  using namespace dse::formats;
  const ArtifactHeader h = decode_header(std::span<const uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  const dse::fb::Artifact* a = dse::fb::GetArtifact(bytes.data() + h.metadata_offset);
  bool found = false;
  for (const dse::fb::Region* r : *a->regions()) {
    if (r->kind() != kind) continue;
    auto* table = reinterpret_cast<flatbuffers::Table*>(const_cast<dse::fb::Region*>(r));
    found = table->SetField<uint64_t>(dse::fb::Region::VT_SIZE, size, 0) &&
            table->SetField<uint64_t>(dse::fb::Region::VT_ALIGNMENT, alignment, 0);
  }
  std::vector<uint8_t> fixed = dse::fuzz::fix_artifact_checksums(bytes);
  if (!fixed.empty()) bytes = std::move(fixed);
  return found;
}

// Sets one ulong field of the ModelConfig table (a VT_ offset of fb::ModelConfig), then fixes the
// checksums.
bool set_config_field(std::vector<uint8_t>& bytes, uint16_t field, uint64_t value) {
  using namespace dse::formats;
  const ArtifactHeader h = decode_header(std::span<const uint8_t, kHeaderSize>(bytes.data(), kHeaderSize));
  const dse::fb::Artifact* a = dse::fb::GetArtifact(bytes.data() + h.metadata_offset);
  auto* table = reinterpret_cast<flatbuffers::Table*>(const_cast<dse::fb::ModelConfig*>(a->config()));
  const bool found = table->SetField<uint64_t>(field, value, 0);
  std::vector<uint8_t> fixed = dse::fuzz::fix_artifact_checksums(bytes);
  if (!fixed.empty()) bytes = std::move(fixed);
  return found;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_artifact_seeds OUT_DIR\n");
    return 2;
  }
  const fs::path out = argv[1];
  fs::create_directories(out);
  int failures = 0;
  auto write_model = [&](const std::string& name, const TinyModelSpec& spec) {
    const dse::Status st = dse::test::write_tiny_model(out / name, spec);
    if (!st.ok()) {
      std::fprintf(stderr, "fuzz_make_artifact_seeds: %s: %s\n", name.c_str(), st.message().c_str());
      ++failures;
    }
  };

  // Valid models: random weights (hidden 16, small), uncompressed and zstd, with and without chat.
  TinyModelSpec base = dse::test::random_model(1);
  base.max_seq_len = 16;
  write_model("tiny-random-f32", base);
  TinyModelSpec zstd = base;
  zstd.codec = dse::fb::Codec::Zstd;
  write_model("tiny-random-zstd", zstd);
  TinyModelSpec nochat = base;
  nochat.with_chat = false;
  nochat.prefill_chunk = 1;
  write_model("tiny-random-nochat-chunk1", nochat);
  TinyModelSpec batch = base;
  batch.max_batch = 3;
  write_model("tiny-random-batch3", batch);

  // Loader breakages: each is a well-formed file the loader must refuse with its own message.
  TinyModelSpec b = base;
  b.backend = "cuda";
  write_model("broken-target-cuda", b);
  b = base;
  b.lm_head_kernel = "matmul_f32_nonexistent";
  write_model("broken-unknown-kernel", b);
  b = base;
  b.logits_offset_shift = 1 << 20;
  write_model("broken-logits-past-arena", b);
  b = base;
  b.extra_merge = "zz qq";
  write_model("broken-merge-not-in-vocab", b);
  b = base;
  b.embed_size_delta = 64;
  write_model("broken-embed-size", b);
  if (failures != 0) return 1;

  // Damaged copies of the valid model, one per reader check.
  const std::vector<uint8_t> good = read_all(out / "tiny-random-f32");
  using dse::formats::ArtifactHeader;
  std::vector<uint8_t> d(good.begin(), good.begin() + 63);
  write_all(out / "damaged-shorter-than-header", d);
  d = good;
  d[0] = 'X';
  write_all(out / "damaged-magic", d);
  d = good;
  d[20] ^= 0x01;  // metadata_offset, header checksum left stale
  write_all(out / "damaged-header-checksum", d);
  d = good;
  edit_header(d, [](ArtifactHeader& h) { h.format_major = 2; });
  write_all(out / "damaged-newer-major", d);
  d = std::vector<uint8_t>(good.begin(), good.begin() + long(good.size() / 2));
  write_all(out / "damaged-truncated-half", d);
  d = good;
  d.push_back(0);
  write_all(out / "damaged-one-byte-appended", d);
  d = good;
  edit_header(d, [](ArtifactHeader& h) { h.metadata_size = h.file_size; });
  write_all(out / "damaged-metadata-past-end", d);
  d = good;
  d[good.size() - 100] ^= 0x40;  // inside the last segment: its checksum fails
  write_all(out / "damaged-segment-bit-flip", d);

  // Hostile but consistent: region sizes near 2^64, whose rounding up to the alignment wraps
  // around (a session must refuse them, not allocate a few bytes and write past them).
  d = good;
  if (!set_region(d, dse::fb::RegionKind::Arena, ~uint64_t{0} - 8, 64)) ++failures;
  write_all(out / "hostile-arena-size-wraps", d);
  d = good;
  if (!set_region(d, dse::fb::RegionKind::KvCache, uint64_t{1} << 63, uint64_t{1} << 63)) ++failures;
  write_all(out / "hostile-kv-alignment-2p63", d);
  d = good;
  if (!set_region(d, dse::fb::RegionKind::KvCache, uint64_t{1} << 62, 64)) ++failures;
  write_all(out / "hostile-kv-4-exbibytes", d);
  // The config claims a longer context than the KV cache holds: the kernels must stop at the
  // cache's end (out_of_range), not write past it.
  d = good;
  if (!set_config_field(d, dse::fb::ModelConfig::VT_MAX_SEQ_LEN, 1000)) ++failures;
  write_all(out / "hostile-context-beyond-kv-cache", d);
  d = good;
  if (!set_config_field(d, dse::fb::ModelConfig::VT_VOCAB_SIZE, 100000)) ++failures;
  write_all(out / "hostile-vocab-beyond-logits", d);
  if (failures != 0) return 1;
  std::printf("fuzz_make_artifact_seeds: wrote 22 seeds to %s\n", out.c_str());
  return 0;
}
