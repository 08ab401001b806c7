// dse-bench: prefill and decode throughput of a compiled model (median over repetitions).
//
//   dse-bench MODEL.dse [--prompt-tokens 512] [--gen-tokens 128] [--reps 5] [--warmup 1]
//             [--threads N] [--json FILE] [--bytes-per-token B --copy-gb-s G] [--temperature T]
//             [--top-k K] [--batch N]
//
// Each repetition starts a fresh conversation, prefills a synthetic prompt of exactly
// --prompt-tokens tokens, then decodes --gen-tokens tokens greedily with EOS ignored.
// prefill tok/s = prompt tokens / time to the first token; decode tok/s = (generated - 1) /
// time after the first token. Greedy by default (on a GPU: argmax on the device); --temperature
// samples on the host from logits copied back each token (GPU), to measure that path.
//
// Roofline (with --bytes-per-token and --copy-gb-s): decode tok/s x the bytes a decode step must
// read (weights of the experts actually used, one embedding row, the KV cache up to the average
// position; scripts/bench-gpu computes it from dsc's report) over a measured copy bandwidth
// (bytes read + written per second, as targets/gpu's kernel bench counts it).
//
// --batch N (an artifact compiled with dsc --max-batch N or more): N prompts (the synthetic one,
// each rotated through the vocabulary so that they differ) generated together by
// dse_session_generate_batch. prefill tok/s = N x prompt tokens / time to the last sequence's first
// token; decode tok/s = all tokens generated after each sequence's first / decode time (the sum
// over the batch; one decode step makes N tokens). The roofline then counts bytes per step.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "dse/dse.hpp"

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string json_list(const std::vector<double>& v) {
  std::string s = "[";
  char buf[64];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%s%.3f", i ? ", " : "", v[i]);
    s += buf;
  }
  return s + "]";
}

std::string json_escape(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_path, json_path;
  uint64_t prompt_tokens = 512, gen_tokens = 128;
  int reps = 5, warmup = 1;
  uint64_t batch = 0;  // 0: one sequence through dse_session_generate_tokens
  double bytes_per_token = 0, copy_gb_s = 0;
  float temperature = 0.0f;
  uint32_t top_k = 0;
  dse_session_options so = {};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--prompt-tokens" && (v = next())) prompt_tokens = std::strtoull(v, nullptr, 10);
    else if (arg == "--gen-tokens" && (v = next())) gen_tokens = std::strtoull(v, nullptr, 10);
    else if (arg == "--reps" && (v = next())) reps = std::atoi(v);
    else if (arg == "--warmup" && (v = next())) warmup = std::atoi(v);
    else if (arg == "--threads" && (v = next())) so.n_threads = uint32_t(std::strtoul(v, nullptr, 10));
    else if (arg == "--json" && (v = next())) json_path = v;
    else if (arg == "--bytes-per-token" && (v = next())) bytes_per_token = std::strtod(v, nullptr);
    else if (arg == "--copy-gb-s" && (v = next())) copy_gb_s = std::strtod(v, nullptr);
    else if (arg == "--temperature" && (v = next())) temperature = std::strtof(v, nullptr);
    else if (arg == "--top-k" && (v = next())) top_k = uint32_t(std::strtoul(v, nullptr, 10));
    else if (arg == "--batch" && (v = next())) batch = std::strtoull(v, nullptr, 10);
    else if (arg[0] != '-' && model_path.empty()) model_path = arg;
    else {
      std::fprintf(stderr,
                   "usage: dse-bench MODEL.dse [--prompt-tokens 512] [--gen-tokens 128] [--reps 5] [--warmup 1]\n"
                   "                 [--threads N] [--json FILE] [--bytes-per-token B --copy-gb-s G] [--temperature T]\n"
                   "                 [--top-k K] [--batch N]\n");
      return 2;
    }
  }
  if (model_path.empty() || prompt_tokens == 0 || gen_tokens == 0 || reps < 1 || warmup < 0) {
    std::fprintf(stderr, "dse-bench: need MODEL.dse, --prompt-tokens >= 1, --gen-tokens >= 1, --reps >= 1\n");
    return 2;
  }

  auto model = dse::Model::open(model_path);
  if (!model.ok()) {
    std::fprintf(stderr, "dse-bench: %s\n", model.status().message().c_str());
    return 1;
  }
  const dse_model_info info = model->info();
  if (prompt_tokens + gen_tokens > info.max_seq_len) {
    std::fprintf(stderr,
                 "dse-bench: %llu prompt + %llu generated tokens exceed the model's planned context of %llu tokens; "
                 "lower --prompt-tokens/--gen-tokens or recompile with a larger --max-seq-len\n",
                 (unsigned long long)prompt_tokens, (unsigned long long)gen_tokens, (unsigned long long)info.max_seq_len);
    return 1;
  }
  if (batch > info.max_batch) {
    std::fprintf(stderr, "dse-bench: --batch %llu but the artifact generates at most %llu sequences together; "
                 "recompile it with dsc --max-batch %llu\n", (unsigned long long)batch,
                 (unsigned long long)info.max_batch, (unsigned long long)batch);
    return 1;
  }
  auto session = dse::Session::create(*model, &so);
  if (!session.ok()) {
    std::fprintf(stderr, "dse-bench: %s\n", session.status().message().c_str());
    return 1;
  }

  // A synthetic prompt: ordinary ids spread over the vocabulary (BOS first, if any; never EOS).
  std::vector<int32_t> prompt(prompt_tokens);
  for (uint64_t i = 0; i < prompt_tokens; ++i) {
    int64_t id = int64_t((i * 7919 + 13) % info.vocab_size);
    if (id == info.eos_id) id = (id + 1) % int64_t(info.vocab_size);
    prompt[i] = int32_t(id);
  }
  if (info.bos_id >= 0) prompt[0] = int32_t(info.bos_id);

  dse_generate_params p = {};
  p.max_new_tokens = uint32_t(gen_tokens);
  p.ignore_eos = 1;
  p.temperature = temperature;
  p.top_k = top_k;
  p.seed = 1;
  std::vector<std::vector<int32_t>> prompts;
  for (uint64_t b = 0; b < batch; ++b) {
    prompts.push_back(prompt);
    for (size_t i = info.bos_id >= 0 ? 1 : 0; i < prompt.size(); ++i) {
      int64_t id = (int64_t(prompt[i]) + int64_t(b) * 101) % int64_t(info.vocab_size);
      if (id == info.eos_id || id == info.bos_id) id = (id + 1) % int64_t(info.vocab_size);
      prompts[b][i] = int32_t(id);
    }
  }
  std::vector<std::span<const int32_t>> prompt_spans(prompts.begin(), prompts.end());
  std::vector<dse_generate_result> results(batch);
  std::vector<double> prefill, decode;
  for (int rep = 0; rep < warmup + reps; ++rep) {
    session->reset();
    dse_generate_result r{};
    dse::Status st = batch == 0 ? session->generate_tokens(prompt, p, &r)
                                : session->generate_batch(prompt_spans, p, [](size_t, std::string_view) { return true; },
                                                          results);
    if (!st.ok()) {
      std::fprintf(stderr, "dse-bench: %s\n", st.message().c_str());
      return 1;
    }
    if (rep < warmup) continue;
    if (batch == 0) {
      prefill.push_back(r.prefill_seconds > 0 ? double(r.prompt_tokens) / r.prefill_seconds : 0.0);
      decode.push_back(r.decode_seconds > 0 && r.generated_tokens > 1 ? double(r.generated_tokens - 1) / r.decode_seconds : 0.0);
    } else {
      double prompt_sum = 0, after_first = 0, prefill_s = 0, decode_s = 0;
      for (const dse_generate_result& x : results) {
        prompt_sum += double(x.prompt_tokens);
        after_first += x.generated_tokens > 1 ? double(x.generated_tokens - 1) : 0.0;
        prefill_s = std::max(prefill_s, x.prefill_seconds);
        decode_s = std::max(decode_s, x.decode_seconds);
      }
      prefill.push_back(prefill_s > 0 ? prompt_sum / prefill_s : 0.0);
      decode.push_back(decode_s > 0 ? after_first / decode_s : 0.0);
    }
    std::fprintf(stderr, "rep %d: prefill %.1f tok/s, decode %.1f tok/s\n", rep - warmup + 1, prefill.back(), decode.back());
  }

  const dse_memory_plan plan = session->memory_plan();
  std::printf("model %s (%s, %s, target %s)\n", model_path.c_str(), info.architecture, info.weight_precision, info.target);
  std::printf("prefill %llu tokens: %.1f tok/s (median of %d)\n", (unsigned long long)prompt_tokens, median(prefill), reps);
  if (batch > 0) {
    std::printf("batch   %llu sequences generated together (tok/s below are sums over the batch)\n",
                (unsigned long long)batch);
  }
  std::printf("decode  %llu tokens: %.1f tok/s (median of %d; %s)\n", (unsigned long long)gen_tokens, median(decode), reps,
              temperature > 0 ? "sampled on the host" : "greedy");
  if (plan.on_gpu) {
    std::printf("memory  device %.2f GiB (weights %.2f GiB, KV cache %.2f MiB, arena %.2f MiB, workspace %.2f MiB), "
                "weights in place %.2f GiB%s\n",
                double(plan.device_bytes) / double(1ull << 30), double(plan.weights_resident_bytes) / double(1ull << 30),
                double(plan.kv_cache_bytes) / double(1ull << 20), double(plan.arena_bytes) / double(1ull << 20),
                double(plan.gpu_workspace_bytes) / double(1ull << 20), double(plan.weights_mapped_bytes) / double(1ull << 30),
                plan.gpu_integrated ? " (integrated GPU)" : "");
  }
  double roofline = 0;
  if (bytes_per_token > 0 && copy_gb_s > 0) {
    // A batched step reads the weights once for all of its sequences.
    const double steps_per_s = median(decode) / double(batch > 0 ? batch : 1);
    const double achieved = steps_per_s * bytes_per_token / 1e9;
    roofline = achieved / copy_gb_s;
    std::printf("roofline %.3f GB read per decode step x %.1f steps/s = %.1f GB/s = %.1f%% of the measured copy "
                "(%.0f GB/s); ceiling %.0f steps/s\n",
                bytes_per_token / 1e9, steps_per_s, achieved, 100.0 * roofline, copy_gb_s,
                copy_gb_s * 1e9 / bytes_per_token);
  }

  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "dse-bench: cannot write %s\n", json_path.c_str());
      return 1;
    }
    std::fprintf(f,
                 "{\n  \"model\": \"%s\",\n  \"architecture\": \"%s\",\n  \"weight_precision\": \"%s\",\n"
                 "  \"target\": \"%s\",\n  \"prompt_tokens\": %llu,\n  \"gen_tokens\": %llu,\n  \"reps\": %d,\n"
                 "  \"threads\": %u,\n  \"prefill_tok_s\": %.3f,\n  \"decode_tok_s\": %.3f,\n"
                 "  \"prefill_tok_s_reps\": %s,\n  \"decode_tok_s_reps\": %s,\n  \"session_bytes\": %llu,\n"
                 "  \"device_bytes\": %llu,\n  \"bytes_per_token\": %.0f,\n  \"copy_gb_s\": %.1f,\n"
                 "  \"roofline_fraction\": %.4f,\n  \"batch\": %llu\n}\n",
                 json_escape(model_path).c_str(), json_escape(info.architecture).c_str(),
                 json_escape(info.weight_precision).c_str(), json_escape(info.target).c_str(),
                 (unsigned long long)prompt_tokens, (unsigned long long)gen_tokens, reps, so.n_threads,
                 median(prefill), median(decode), json_list(prefill).c_str(), json_list(decode).c_str(),
                 (unsigned long long)plan.total_allocated_bytes, (unsigned long long)plan.device_bytes,
                 bytes_per_token, copy_gb_s, roofline, (unsigned long long)(batch > 0 ? batch : 1));
    std::fclose(f);
  }
  return 0;
}
