// Writes small hand-made artifacts for the runtime tests: a one-layer attention model over a
// 259-token byte-level vocabulary, built with the formats writer and the FlatBuffers builder.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dse/formats/artifact_generated.h"
#include "dse/status.h"

namespace dse::test {

// The tiny vocabulary: <s>, </s>, the 256 byte-level single-byte tokens (byte b has id 2 + b),
// and "ab" (merge "a b"). Ids used by the tests:
enum TinyToken : int32_t {
  kBos = 0, kEos = 1, kSpace = 2 + ' ', kA = 2 + 'a', kB = 2 + 'b', kC = 2 + 'c', kD = 2 + 'd', kE = 2 + 'e', kAB = 258
};
inline constexpr int64_t kTinyVocab = 259;

// The model: x = embed[token]; k = v = x into the caches; attn = attention(q = x, scale);
// h = x + attn; logits = lm_head * h[last]. Weights are [V, H] row-major, F32.
struct TinyModelSpec {
  int64_t hidden = kTinyVocab;
  std::vector<float> embed;    // [V, hidden]
  std::vector<float> lm_head;  // [V, hidden]
  float attention_scale = 0.0f;
  uint64_t max_seq_len = 64;
  uint64_t prefill_chunk = 4;
  uint64_t max_batch = 1;  // > 1: caches of max_batch slots; decode takes max_batch rows, no last_row
  fb::Codec codec = fb::Codec::None;
  bool with_chat = true;
  std::string assistant_suffix = "</s>";

  // Breakages for the loader tests.
  std::string backend = "cpu";
  std::string lm_head_kernel = "matmul_f32_f32";
  uint64_t logits_offset_shift = 0;       // moves the logits slot past the end of the arena
  std::string extra_merge;                // appended to the merges as is
  int64_t embed_size_delta = 0;           // bytes added to the embedding slot's declared size
};

// The one-hot model: embed = identity (hidden = 259), lm_head = 10 x the permutation that maps
// each token to `successor[token]`. With attention scale 0, h = e_last + mean(e_0..e_last), so
// greedy decoding always picks successor[last]: the output can be written down by hand.
TinyModelSpec successor_model(const std::vector<int32_t>& successor);

// The default successor map: a b c d e " " ab a ...; every other token -> a.
std::vector<int32_t> default_successors();

// Random weights (seeded, N(0, 1)), hidden 16, scale 1/4: output depends on the whole history.
TinyModelSpec random_model(uint64_t seed);

// Writes the artifact. Errors are the writer's.
Status write_tiny_model(const std::filesystem::path& path, const TinyModelSpec& spec);

// A fresh path in the temp directory (unique per call), removed by the destructor.
class TempFile {
 public:
  explicit TempFile(const std::string& stem);
  ~TempFile();
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace dse::test
