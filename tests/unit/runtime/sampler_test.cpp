// The sampler: each option's effect, and the same seed giving the same tokens.
#include "dse/runtime/sampler.h"

#include <catch2/catch_test_macros.hpp>
#include <algorithm>
#include <cmath>
#include <random>
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

TEST_CASE("top-p finds a large nucleus of equally likely tokens", "[sampler]") {
  // 1000 equally likely tokens: top_p 0.5 keeps 500 of them (ties go to the lower id).
  Sampler s = make_sampler(1000);
  const std::vector<float> flat(1000, 0.25f);
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  const auto tokens = draw(s, flat, p, 2000);
  const std::set<int32_t> seen(tokens.begin(), tokens.end());
  CHECK(*seen.rbegin() < 500);
  CHECK(seen.size() > 300);
}

namespace {

// What candidates() must give, the slow way: every token sorted by likelihood (ties to the lower
// id), top-k, probabilities relative to the most likely (expf of the same float differences),
// top-p as the shortest sorted prefix reaching top_p times the mass, min-p; ids ascending.
struct Kept {
  std::vector<int32_t> ids;
  std::vector<float> probs;
  double mass = 0.0;
};

Kept reference_candidates(const std::vector<float>& logits, const SamplerParams& p) {
  struct C { float v; int32_t id; };
  auto more_likely = [](const C& a, const C& b) { return a.v > b.v || (a.v == b.v && a.id < b.id); };
  std::vector<C> c;
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({logits[i] * (1.0f / p.temperature), int32_t(i)});
  std::sort(c.begin(), c.end(), more_likely);
  if (p.top_k > 0 && p.top_k < c.size()) c.resize(p.top_k);
  const float max_z = c[0].v;
  double mass = 0.0;
  for (C& x : c) {
    x.v = std::exp(x.v - max_z);
    mass += x.v;
  }
  if (p.top_p > 0.0f && p.top_p < 1.0f) {
    const double target = double(p.top_p) * mass;
    double cum = 0.0;
    size_t keep = 0;
    while (keep < c.size() && (keep == 0 || cum < target)) cum += c[keep++].v;
    c.resize(keep);
    mass = cum;
  }
  if (p.min_p > 0.0f) {
    std::vector<C> kept;
    mass = 0.0;
    for (const C& x : c)
      if (x.v >= p.min_p || x.v == 1.0f) {
        kept.push_back(x);
        mass += x.v;
      }
    c = kept;
  }
  std::sort(c.begin(), c.end(), [](const C& a, const C& b) { return a.id < b.id; });
  Kept k;
  for (const C& x : c) {
    k.ids.push_back(x.id);
    k.probs.push_back(x.v);
  }
  k.mass = mass;
  return k;
}

}  // namespace

TEST_CASE("the candidates a draw picks from are exactly the top-k / top-p / min-p set", "[sampler]") {
  // Large vocabularies with spread-out and with flat logits (the nucleus then ends inside a
  // crowded bin of the histogram top-p uses), repeated values (ties), every filter alone and
  // together; compared token by token with a full sort.
  std::mt19937 rng(2026);
  const int64_t vocab = 20000;
  Sampler s = make_sampler(vocab);
  std::normal_distribution<float> spread(0.0f, 4.0f);
  std::uniform_int_distribution<int> level(0, 40);
  struct Filters { float temperature; uint32_t top_k; float top_p; float min_p; };
  const Filters cases[] = {{1.0f, 0, 0.0f, 0.0f},   {0.8f, 40, 0.0f, 0.0f},   {0.7f, 0, 0.9f, 0.0f},
                           {1.3f, 0, 0.5f, 0.0f},   {1.0f, 0, 0.0f, 0.05f},   {0.9f, 200, 0.95f, 0.02f},
                           {2.0f, 0, 0.99f, 0.0f},  {1.0f, 19999, 0.3f, 0.0f}, {0.5f, 1, 0.9f, 0.1f}};
  for (int trial = 0; trial < 6; ++trial) {
    std::vector<float> logits(static_cast<size_t>(vocab));
    for (float& x : logits) x = trial % 2 == 0 ? spread(rng) : 0.25f * float(level(rng));  // odd: many ties
    for (const Filters& f : cases) {
      SamplerParams p;
      p.temperature = f.temperature;
      p.top_k = f.top_k;
      p.top_p = f.top_p;
      p.min_p = f.min_p;
      INFO("trial " << trial << " temperature " << f.temperature << " top_k " << f.top_k << " top_p " << f.top_p
                    << " min_p " << f.min_p);
      const Kept want = reference_candidates(logits, p);
      std::vector<float> work = logits;
      const dse::runtime::SamplerCandidates got = s.candidates(work, {}, p);
      REQUIRE(got.size == want.ids.size());
      CHECK(std::vector<int32_t>(got.ids, got.ids + got.size) == want.ids);
      CHECK(std::vector<float>(got.probs, got.probs + got.size) == want.probs);
      CHECK(std::fabs(got.mass - want.mass) <= 1e-9 * want.mass);
    }
  }
}

TEST_CASE("logits without a finite value fall back to the greedy choice", "[sampler]") {
  Sampler s = make_sampler(4);
  SamplerParams p;
  p.temperature = 1.0f;
  p.top_p = 0.9f;
  std::vector<float> all_neg_inf(4, -INFINITY);
  CHECK(s.sample(all_neg_inf, {}, p) == 0);
  std::vector<float> nan_and_inf = {NAN, -INFINITY, NAN, -INFINITY};
  CHECK(s.sample(nan_and_inf, {}, p) == 0);
  std::vector<float> one_nan = {1.0f, NAN, 3.0f, 2.0f};  // NaN is never drawn
  SamplerParams q;
  q.temperature = 1.0f;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> l = one_nan;
    CHECK(s.sample(l, {}, q) != 1);
  }
}
