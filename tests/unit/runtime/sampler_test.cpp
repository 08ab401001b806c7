// The sampler: each option's effect, and the same seed giving the same tokens.
#include "dse/runtime/sampler.h"

#include <catch2/catch_test_macros.hpp>
#include <cmath>
#include <set>
#include <vector>

using dse::runtime::Sampler;
using dse::runtime::SamplerParams;

namespace {

Sampler make_sampler(int64_t vocab) {
  auto s = Sampler::create(vocab);
  REQUIRE(s.ok());
  return std::move(s).value();
}

// Draws `n` tokens from fresh copies of `logits`.
std::vector<int32_t> draw(Sampler& s, const std::vector<float>& logits, const SamplerParams& p, int n,
                          const std::vector<int32_t>& history = {}) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    out.push_back(s.sample(l, history, p));
  }
  return out;
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, 0.5f, 2.9f, -1.0f, 0.0f, 2.0f};

}  // namespace

TEST_CASE("greedy sampling picks the largest logit and the lowest id on a tie", "[sampler]") {
  Sampler s = make_sampler(8);
  SamplerParams p;  // zero-initialised: greedy
  CHECK(draw(s, kLogits, p, 1)[0] == 1);
  std::vector<float> tie = {0.0f, 5.0f, 5.0f, 1.0f};
  CHECK(s.sample(tie, {}, p) == 1);
}

TEST_CASE("the same seed gives the same tokens and another seed gives others", "[sampler]") {
  Sampler s = make_sampler(8);
  SamplerParams p;
  p.temperature = 1.0f;
  p.seed = 42;
  s.reseed(42);
  const auto first = draw(s, kLogits, p, 64);
  s.reseed(42);
  CHECK(draw(s, kLogits, p, 64) == first);
  s.reseed(43);
  CHECK(draw(s, kLogits, p, 64) != first);
  CHECK(std::set<int32_t>(first.begin(), first.end()).size() > 2);  // it is really sampling
}

TEST_CASE("top-k keeps only the k most likely tokens", "[sampler]") {
  Sampler s = make_sampler(8);
  SamplerParams p;
  p.temperature = 5.0f;  // flat, so that without top-k every token would appear
  p.top_k = 2;
  const auto tokens = draw(s, kLogits, p, 500);
  CHECK(std::set<int32_t>(tokens.begin(), tokens.end()) == std::set<int32_t>{1, 4});
  p.top_k = 0;
  const auto all = draw(s, kLogits, p, 500);
  CHECK(std::set<int32_t>(all.begin(), all.end()).size() == 8);
}

TEST_CASE("top-p keeps the smallest set that reaches the probability", "[sampler]") {
  Sampler s = make_sampler(4);
  // Probabilities about 0.5, 0.3, 0.15, 0.05.
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_p = 0.7f;  // 0.5 < 0.7 <= 0.8: tokens 0 and 1
  auto tokens = draw(s, logits, p, 400);
  CHECK(std::set<int32_t>(tokens.begin(), tokens.end()) == std::set<int32_t>{0, 1});
  p.top_p = 0.4f;  // the top token alone reaches it
  tokens = draw(s, logits, p, 100);
  CHECK(std::set<int32_t>(tokens.begin(), tokens.end()) == std::set<int32_t>{0});
}

TEST_CASE("min-p drops tokens less likely than min_p times the top one", "[sampler]") {
  Sampler s = make_sampler(4);
  const std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplerParams p;
  p.temperature = 1.0f;
  p.min_p = 0.5f;  // keeps p >= 0.25: tokens 0 and 1
  auto tokens = draw(s, logits, p, 400);
  CHECK(std::set<int32_t>(tokens.begin(), tokens.end()) == std::set<int32_t>{0, 1});
}

TEST_CASE("the repetition penalty steers away from tokens already in the history", "[sampler]") {
  Sampler s = make_sampler(8);
  SamplerParams p;  // greedy
  p.repetition_penalty = 2.0f;
  // Token 1 (3.0) is penalised to 1.5, so token 4 (2.9) wins.
  CHECK(draw(s, kLogits, p, 1, {1, 1, 1})[0] == 4);
  // A negative logit is multiplied, so a penalised token 5 stays last.
  std::vector<float> l = kLogits;
  s.sample(l, std::vector<int32_t>{5}, p);
  CHECK(l[5] == -2.0f);
  // Only the last n tokens count.
  p.repetition_last_n = 1;
  CHECK(draw(s, kLogits, p, 1, {1, 7})[0] == 1);
}

TEST_CASE("a low temperature concentrates the draws on the top token", "[sampler]") {
  Sampler s = make_sampler(8);
  SamplerParams p;
  p.temperature = 0.005f;  // the runner-up (0.1 below) is e^-20 as likely
  const auto tokens = draw(s, kLogits, p, 200);
  CHECK(std::set<int32_t>(tokens.begin(), tokens.end()) == std::set<int32_t>{1});
}

TEST_CASE("a sampler for an empty vocabulary is refused", "[sampler]") {
  auto s = Sampler::create(0);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == dse::StatusCode::invalid_argument);
}

TEST_CASE("top-p finds a nucleus larger than the first partial sort", "[sampler]") {
  // 1000 equally likely tokens: top_p 0.5 keeps 500 of them (ties go to the lower id).
  Sampler s = make_sampler(1000);
  const std::vector<float> flat(1000, 0.25f);
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  const auto tokens = draw(s, flat, p, 2000);
  const std::set<int32_t> seen(tokens.begin(), tokens.end());
  CHECK(*seen.rbegin() < 500);
  CHECK(seen.size() > 300);  // far more than the 64 sorted first
}
