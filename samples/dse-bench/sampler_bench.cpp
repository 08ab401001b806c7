// dse-sampler-bench: time of one Sampler::sample call over a vocabulary of random logits (normal,
// standard deviation 3), per filter setting: what sampling (rather than greedy decoding) adds to
// every generated token, whatever the backend that made the logits.
//
//   dse-sampler-bench [--vocab N] [--tokens N]     (defaults: 151936, Qwen2's vocabulary; 200)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "dse/runtime/sampler.h"

int main(int argc, char** argv) {
  int64_t vocab = 151936;
  int tokens = 200;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--tokens") && i + 1 < argc) tokens = std::atoi(argv[++i]);
    else {
      std::fprintf(stderr, "usage: %s [--vocab N] [--tokens N]\n", argv[0]);
      return 2;
    }
  }
  auto created = dse::runtime::Sampler::create(vocab);
  if (!created.ok() || tokens < 1) {
    std::fprintf(stderr, "dse-sampler-bench: %s\n",
                 created.ok() ? "--tokens must be at least 1" : created.status().message().c_str());
    return 2;
  }
  dse::runtime::Sampler sampler = std::move(created).value();
  std::mt19937 gen(1);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> base(static_cast<size_t>(vocab));
  for (float& x : base) x = dist(gen);
  std::vector<int32_t> history(600);
  for (int32_t& id : history) id = int32_t(gen() % uint64_t(vocab));

  struct Setting {
    const char* name;
    dse::runtime::SamplerParams params;
  };
  Setting settings[4] = {{"temperature 1.0, no filter", {}},
                         {"temperature 0.8, top-k 40", {}},
                         {"temperature 0.8, top-p 0.95", {}},
                         {"0.8, top-k 40, top-p 0.95, min-p 0.05, penalty 1.1", {}}};
  settings[0].params.temperature = 1.0f;
  settings[1].params.temperature = 0.8f;
  settings[1].params.top_k = 40;
  settings[2].params.temperature = 0.8f;
  settings[2].params.top_p = 0.95f;
  settings[3].params = {0.8f, 40, 0.95f, 0.05f, 1.1f, 64, 0};
  std::printf("vocabulary %lld, %d tokens per setting, best of 3\n", static_cast<long long>(vocab), tokens);
  std::vector<float> logits(base.size());
  for (const Setting& s : settings) {
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {
      dse::runtime::Rng rng(42);
      double total = 0.0;
      for (int t = 0; t < tokens; ++t) {
        logits = base;  // sample() changes its logits (penalty); not timed
        logits[size_t(t) % logits.size()] += 5.0f;
        const auto t0 = std::chrono::steady_clock::now();
        (void)sampler.sample(logits, history, s.params, rng);
        total += std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
      }
      best = std::min(best, total / tokens);
    }
    std::printf("%-52s %9.1f us per token\n", s.name, best);
  }
  return 0;
}
