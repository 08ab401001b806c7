// Token sampler: penalty, temperature, top-k, top-p, min-p, then a draw from a seeded stream.
#include "dse/runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <string>

namespace dse::runtime {

namespace {

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

void Rng::reseed(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& s : s_) s = splitmix64(x);
}

uint64_t Rng::next() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float Rng::uniform() {
  // 24 random bits: every value is exactly representable, and the result is < 1.
  return float(next() >> 40) * (1.0f / 16777216.0f);
}

Result<Sampler> Sampler::create(int64_t vocab_size) {
  if (vocab_size <= 0 || vocab_size > int64_t(INT32_MAX)) {
    return Status(StatusCode::invalid_argument,
                  "sampler: expected a vocabulary size in [1, 2^31), found " + std::to_string(vocab_size));
  }
  Sampler s;
  s.vocab_size_ = vocab_size;
  s.candidates_.reset(new (std::nothrow) Candidate[size_t(vocab_size)]);
  s.seen_stamp_.reset(new (std::nothrow) uint32_t[size_t(vocab_size)]());
  if (!s.candidates_ || !s.seen_stamp_) {
    return Status(StatusCode::out_of_memory, "sampler: could not allocate scratch for " +
                                                 std::to_string(vocab_size) + " tokens");
  }
  return s;
}

void Sampler::apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> history,
                                       const SamplerParams& params) {
  const float penalty = params.repetition_penalty;
  if (!(penalty > 0.0f) || penalty == 1.0f || history.empty()) return;
  size_t first = 0;
  if (params.repetition_last_n > 0 && history.size() > params.repetition_last_n) {
    first = history.size() - params.repetition_last_n;
  }
  // A stamp per call marks tokens already penalised, so a token seen many times is penalised
  // once, as Hugging Face's RepetitionPenaltyLogitsProcessor does, without clearing an array.
  if (++stamp_ == 0) {
    std::fill_n(seen_stamp_.get(), size_t(vocab_size_), 0u);
    stamp_ = 1;
  }
  for (size_t i = first; i < history.size(); ++i) {
    const int32_t id = history[i];
    if (id < 0 || id >= vocab_size_ || seen_stamp_[size_t(id)] == stamp_) continue;
    seen_stamp_[size_t(id)] = stamp_;
    float& l = logits[size_t(id)];
    l = l > 0.0f ? l / penalty : l * penalty;
  }
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> history, const SamplerParams& params,
                        Rng& rng) {
  const size_t vocab = std::min(logits.size(), size_t(vocab_size_));
  if (vocab == 0) return 0;
  apply_repetition_penalty(logits.first(vocab), history, params);

  if (!(params.temperature > 0.0f)) {
    size_t best = 0;
    for (size_t i = 1; i < vocab; ++i) {
      if (logits[i] > logits[best]) best = i;  // strict: the lowest id wins a tie
    }
    return int32_t(best);
  }

  const float inv_t = 1.0f / params.temperature;
  Candidate* c = candidates_.get();
  for (size_t i = 0; i < vocab; ++i) c[i] = {logits[i] * inv_t, int32_t(i)};
  // Ties broken by id so that the order, and hence the draw, is the same on every platform.
  auto more_likely = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };

  size_t n = vocab;
  if (params.top_k > 0 && params.top_k < n) {
    std::nth_element(c, c + params.top_k, c + n, more_likely);
    n = params.top_k;
  }

  // Unnormalised probabilities relative to the most likely token (whose value is exactly 1).
  float max_logit = c[0].logit;
  for (size_t i = 1; i < n; ++i) max_logit = std::max(max_logit, c[i].logit);
  double sum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    c[i].logit = std::exp(c[i].logit - max_logit);
    sum += c[i].logit;
  }

  if (params.top_p > 0.0f && params.top_p < 1.0f) {
    // The nucleus is a prefix of the tokens sorted by probability. Sorting the whole vocabulary
    // for every token is slow, so sort only the k most likely and widen k until their mass
    // reaches the target (usually at the first try).
    const double target = double(params.top_p) * sum;
    size_t k = std::min<size_t>(n, 64);
    while (true) {
      if (k < n) std::nth_element(c, c + k, c + n, more_likely);
      std::sort(c, c + k, more_likely);
      double cum = 0.0;
      size_t keep = 0;
      while (keep < k && cum < target) cum += c[keep++].logit;
      if (cum >= target || k == n) {
        n = std::max<size_t>(keep, 1);
        sum = cum > 0.0 ? cum : c[0].logit;
        break;
      }
      k = std::min(n, k * 8);
    }
  }

  if (params.min_p > 0.0f) {
    const float threshold = params.min_p;  // times p(most likely), which is 1 here
    size_t kept = 0;
    sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
      if (c[i].logit >= threshold || c[i].logit == 1.0f) {  // the most likely token always stays
        c[kept++] = c[i];
        sum += c[i].logit;
      }
    }
    n = kept;
  }

  const double r = double(rng.uniform()) * sum;
  double cum = 0.0;
  for (size_t i = 0; i < n; ++i) {
    cum += c[i].logit;
    if (r < cum) return c[i].id;
  }
  return c[n - 1].id;  // rounding left r at the very end
}

}  // namespace dse::runtime
