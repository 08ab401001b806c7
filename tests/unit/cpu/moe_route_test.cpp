// moe_route_f32: hand-made cases with known answers for greedy, group_limited_greedy and noaux_tc
// (softmax and sigmoid), and random cases against a plain re-statement of HF's routers.
#include <catch2/catch_test_macros.hpp>

#include <algorithm>

#include "kernel_test_support.h"

using namespace dse;
using namespace dse::cpu;
using namespace dse::cpu::test;

namespace {

struct RouteParams {
  int64_t top_k, n_group, topk_group, scoring, method, norm;
  float scaling;
  std::vector<float> bias;  // empty: no bias operand
};

struct RouteResult {
  std::vector<int32_t> ids;
  std::vector<float> weights;
};

RouteResult route(const std::vector<float>& logits, int64_t rows, const RouteParams& p, ThreadPool* pool = nullptr) {
  const int64_t e = int64_t(logits.size()) / rows;
  Tensor lt = f32_tensor({rows, e}, logits), ids(DType::i32, {rows, p.top_k}), w(DType::f32, {rows, p.top_k});
  Tensor bias;
  Call call;
  call.operands.push_back(lt.view);
  if (!p.bias.empty()) {
    bias = f32_tensor({e}, p.bias);
    call.operands.push_back(bias.view);
  }
  call.operands.push_back(ids.view);
  call.operands.push_back(w.view);
  call.iparams = {p.top_k, p.n_group, p.topk_group, p.scoring, p.method, p.norm, p.bias.empty() ? 0 : 1};
  call.fparams = {p.scaling};
  REQUIRE(run_kernel("moe_route_f32", call, step_of(rows), pool).ok());
  RouteResult r;
  r.ids.assign(ids.as<int32_t>(), ids.as<int32_t>() + rows * p.top_k);
  r.weights = w.values();
  return r;
}

std::vector<float> logits_of_probs(const std::vector<double>& p) {  // softmax(log p) = p when sum p = 1
  std::vector<float> l;
  for (double x : p) l.push_back(float(std::log(x)));
  return l;
}

std::vector<float> logits_of_sigmoid(const std::vector<double>& s) {
  std::vector<float> l;
  for (double x : s) l.push_back(float(std::log(x / (1.0 - x))));
  return l;
}

void check_weights(const std::vector<float>& got, const std::vector<double>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO("slot " << i);
    CHECK(std::fabs(got[i] - want[i]) <= 1e-5 * std::max(1.0, std::fabs(want[i])));
  }
}

}  // namespace

TEST_CASE("greedy softmax routing picks the top-k probabilities and scales them", "[cpu][moe_route]") {
  const auto logits = logits_of_probs({0.125, 0.25, 0.5, 0.125});
  RouteResult r = route(logits, 1, {2, 1, 1, 0, 0, 0, 1.0f, {}});
  CHECK(r.ids == std::vector<int32_t>{2, 1});
  check_weights(r.weights, {0.5, 0.25});
  r = route(logits, 1, {2, 1, 1, 0, 0, 0, 16.0f, {}});
  check_weights(r.weights, {8.0, 4.0});
  r = route(logits, 1, {2, 1, 1, 0, 0, 1, 2.0f, {}});  // renormalised, then scaled
  check_weights(r.weights, {2.0 * 2.0 / 3.0, 2.0 / 3.0});
}

TEST_CASE("greedy routing breaks ties toward the lower expert id", "[cpu][moe_route]") {
  RouteResult r = route({0.0f, 1.0f, 1.0f, 1.0f, 0.0f}, 1, {2, 1, 1, 0, 0, 0, 1.0f, {}});
  CHECK(r.ids == std::vector<int32_t>{1, 2});
}

TEST_CASE("group_limited_greedy keeps the groups with the best maximum before taking the top-k", "[cpu][moe_route]") {
  // Groups of 2: maxima .30, .20, .19, .05 -> groups 0 and 1 kept. Plain greedy would pick expert 4 (.19).
  const auto logits = logits_of_probs({0.30, 0.01, 0.02, 0.20, 0.19, 0.18, 0.05, 0.05});
  RouteResult r = route(logits, 1, {3, 4, 2, 0, 1, 0, 1.0f, {}});
  CHECK(r.ids == std::vector<int32_t>{0, 3, 2});
  check_weights(r.weights, {0.30, 0.20, 0.02});
  RouteResult g = route(logits, 1, {3, 4, 2, 0, 0, 0, 1.0f, {}});
  CHECK(g.ids == std::vector<int32_t>{0, 3, 4});
}

TEST_CASE("noaux_tc scores groups by their two best biased scores and weights by the unbiased score", "[cpu][moe_route]") {
  // s = sigmoid(logits); b = s + bias = [.9 .1 | .6 .6 | .8 .05 | .8 .8]; group sums of the top two:
  // 1.0, 1.2, .85, 1.6 -> groups 3 and 1. A max-based group score would keep group 0 (.9) instead.
  const auto logits = logits_of_sigmoid({0.9, 0.1, 0.6, 0.6, 0.8, 0.05, 0.3, 0.3});
  const std::vector<float> bias = {0, 0, 0, 0, 0, 0, 0.5f, 0.5f};
  RouteResult r = route(logits, 1, {2, 4, 2, 1, 2, 1, 2.5f, bias});
  CHECK(r.ids == std::vector<int32_t>{6, 7});
  check_weights(r.weights, {1.25, 1.25});  // .3 / (.3 + .3) * 2.5 each: the bias never weights
  RouteResult un = route(logits, 1, {2, 4, 2, 1, 2, 0, 1.0f, bias});
  check_weights(un.weights, {0.3, 0.3});
}

TEST_CASE("noaux_tc masks dropped groups with -inf, so negative biased scores still win", "[cpu][moe_route]") {
  // b = [-.3 -.4 | -.9 -.8]: group 0 is kept; a 0.0 mask would wrongly prefer experts 2 and 3.
  const auto logits = logits_of_sigmoid({0.2, 0.1, 0.3, 0.4});
  RouteResult r = route(logits, 1, {2, 2, 1, 1, 2, 1, 1.0f, {-0.5f, -0.5f, -1.2f, -1.2f}});
  CHECK(r.ids == std::vector<int32_t>{0, 1});
  check_weights(r.weights, {2.0 / 3.0, 1.0 / 3.0});
}

TEST_CASE("routing on random logits selects the same experts and weights as HF's routers restated", "[cpu][moe_route]") {
  std::mt19937 rng(40);
  ThreadPool pool(4);
  const int64_t rows = 17, e = 64;
  for (int64_t method : {0, 1, 2}) {
    for (int64_t scoring : {0, 1}) {
      for (int64_t norm : {0, 1}) {
        RouteParams p{6, 8, 3, scoring, method, norm, 2.5f, {}};
        if (method == 2) p.bias = random_values(rng, size_t(e), -0.1f, 0.1f);
        const auto logits = random_values(rng, size_t(rows * e), -4.0f, 4.0f);
        RouteResult r = route(logits, rows, p, &pool);
        RouteResult single = route(logits, rows, p, nullptr);
        CHECK(r.ids == single.ids);
        CHECK(r.weights == single.weights);
        for (int64_t t = 0; t < rows; ++t) {
          // HF, restated: scores, biased choice scores, group mask, top-k, gather, normalise, scale.
          std::vector<double> s(static_cast<size_t>(e)), b(static_cast<size_t>(e));
          double mx = -1e300, sum = 0;
          for (int64_t i = 0; i < e; ++i) mx = std::max(mx, double(logits[size_t(t * e + i)]));
          for (int64_t i = 0; i < e; ++i) sum += std::exp(double(logits[size_t(t * e + i)]) - mx);
          for (int64_t i = 0; i < e; ++i) {
            const double l = logits[size_t(t * e + i)];
            s[size_t(i)] = scoring ? 1.0 / (1.0 + std::exp(-l)) : std::exp(l - mx) / sum;
            b[size_t(i)] = s[size_t(i)] + (p.bias.empty() ? 0.0 : p.bias[size_t(i)]);
          }
          if (method != 0) {
            const int64_t per = e / p.n_group;
            std::vector<std::pair<double, int64_t>> gs;
            for (int64_t g = 0; g < p.n_group; ++g) {
              std::vector<double> v(b.begin() + g * per, b.begin() + (g + 1) * per);
              std::sort(v.rbegin(), v.rend());
              gs.push_back({method == 1 ? v[0] : v[0] + v[1], g});
            }
            std::sort(gs.begin(), gs.end(), [](auto& x, auto& y) { return x.first > y.first; });
            std::vector<bool> kept(size_t(p.n_group), false);
            for (int64_t j = 0; j < p.topk_group; ++j) kept[size_t(gs[size_t(j)].second)] = true;
            for (int64_t i = 0; i < e; ++i) {
              if (!kept[size_t(i / per)]) b[size_t(i)] = method == 1 ? 0.0 : -1e300;
            }
          }
          std::vector<int64_t> order(static_cast<size_t>(e));
          for (int64_t i = 0; i < e; ++i) order[size_t(i)] = i;
          std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return b[size_t(x)] > b[size_t(y)]; });
          std::vector<double> w;
          double total = 0;
          for (int64_t j = 0; j < p.top_k; ++j) {
            w.push_back(s[size_t(order[size_t(j)])]);
            total += w.back();
          }
          for (int64_t j = 0; j < p.top_k; ++j) {
            if (norm) w[size_t(j)] /= total + 1e-20;
            w[size_t(j)] *= p.scaling;
            INFO("method " << method << " scoring " << scoring << " norm " << norm << " token " << t << " slot " << j);
            CHECK(r.ids[size_t(t * p.top_k + j)] == order[size_t(j)]);
            CHECK(std::fabs(r.weights[size_t(t * p.top_k + j)] - w[size_t(j)]) <= 1e-5 * std::max(1.0, w[size_t(j)]));
          }
        }
      }
    }
  }
}
