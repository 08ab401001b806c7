// Token sampler: greedy, temperature, top-k, top-p, min-p and repetition penalty, seedable, with
// every buffer sized once from the vocabulary so that sampling a token allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "dse/status.h"

namespace dse::runtime {

// Zero-initialised means greedy decoding with no penalty. Each option is off at its zero value
// (and at its neutral value: top_p >= 1, repetition_penalty == 1).
struct SamplerParams {
  float temperature = 0.0f;         // <= 0: greedy (argmax); otherwise logits are divided by it
  uint32_t top_k = 0;               // keep the k most likely tokens; 0: all
  float top_p = 0.0f;               // keep the smallest set whose probability reaches top_p; 0 or >= 1: off
  float min_p = 0.0f;               // drop tokens below min_p * p(most likely); 0: off
  float repetition_penalty = 0.0f;  // > 0 and != 1: Hugging Face / CTRL penalty on seen tokens
  uint32_t repetition_last_n = 0;   // how many recent tokens count as seen; 0: the whole history
  uint64_t seed = 0;                // the same seed and inputs give the same tokens
};

// xoshiro256** seeded through splitmix64: platform independent, unlike std:: distributions,
// so a seed gives the same text on every machine.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next();
  float uniform();  // [0, 1)

 private:
  uint64_t s_[4] = {0, 0, 0, 0};
};

// The tokens of a sequence's history (n of them) the repetition penalty looks back over: the last
// params.repetition_last_n, or all when it is 0.
inline std::span<const int32_t> penalty_window(const int32_t* history, uint64_t n, const SamplerParams& params) {
  const uint64_t window = params.repetition_last_n;
  const uint64_t from = window > 0 && n > window ? n - window : 0;
  return {history + from, size_t(n - from)};
}

// The tokens a draw picks from: ids in ascending order with their probabilities relative to the
// most likely token (which has exactly 1), and the sum of those probabilities.
struct SamplerCandidates {
  const int32_t* ids = nullptr;
  const float* probs = nullptr;
  size_t size = 0;
  double mass = 0.0;
};

class Sampler {
 public:
  // Allocates the scratch for a vocabulary of vocab_size tokens (about 16 bytes per token).
  static Result<Sampler> create(int64_t vocab_size);

  // Restarts the random stream; called at the start of each generate call.
  void reseed(uint64_t seed) { rng_.reseed(seed); }

  // Picks the next token. `logits` (vocab_size values) is modified in place (penalty). `history`
  // holds the tokens of the sequence so far, for the repetition penalty. Never allocates.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, const SamplerParams& params) {
    return sample(logits, history, params, rng_);
  }
  // The same with another random stream (batched generation keeps one per sequence).
  int32_t sample(std::span<float> logits, std::span<const int32_t> history, const SamplerParams& params, Rng& rng);

  // What sample() draws from, without drawing: the penalty applied to `logits` in place, then
  // temperature, top-k, top-p and min-p. Greedy (temperature <= 0) gives the one argmax token.
  // Valid until the next call on this sampler. Never allocates.
  SamplerCandidates candidates(std::span<float> logits, std::span<const int32_t> history, const SamplerParams& params);

  int64_t vocab_size() const { return vocab_size_; }

 private:
  void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history,
                                const SamplerParams& params);
  size_t select_top_k(const float* logits, size_t vocab, float inv_t, size_t k);
  size_t keep_top_p(size_t n, double target, double& kept_mass);
  size_t keep_min_p(size_t n, float min_p, double& kept_mass);

  int64_t vocab_size_ = 0;
  std::unique_ptr<float[]> probs_;          // the kept tokens' scaled logits, then probabilities
  std::unique_ptr<int32_t[]> ids_;          // and their ids, ascending
  struct Ranked {
    float p;  // scaled logit (top-k) or probability (top-p)
    int32_t id;
  };
  std::unique_ptr<Ranked[]> ranked_;        // scratch of top-k (a heap) and top-p (a sorted bin)
  std::unique_ptr<double[]> bin_mass_;      // top-p: probability mass per bin of float exponents
  std::unique_ptr<uint32_t[]> seen_stamp_;  // stamp per token: penalised in the current call
  uint32_t stamp_ = 0;
  Rng rng_;
};

}  // namespace dse::runtime
