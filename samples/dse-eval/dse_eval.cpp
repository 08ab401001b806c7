// dse-eval: perplexity of a compiled model over a text file, and optionally the KL divergence of
// its next-token distributions from a reference artifact's (e.g. int4 against fp32).
//
// Perplexity is computed exactly as scripts/train_tinyseek.py computes Hugging Face's: the text is
// tokenized without special tokens, cut into windows of --window tokens, each window fed after
// BOS in a fresh context, and every token of the window scored; ppl = exp(mean NLL).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "dse/dse.h"

namespace {

const char kUsage[] =
    "usage: dse-eval MODEL.dse --text FILE [options]\n"
    "\n"
    "Perplexity of MODEL over the text in FILE (UTF-8), and with --reference the mean KL\n"
    "divergence KL(reference || MODEL) of the next-token distributions.\n"
    "\n"
    "options:\n"
    "  --text FILE         text to evaluate (required)\n"
    "  --reference REF.dse  also run REF on the same tokens and report the mean KL divergence\n"
    "  --window N          tokens per window, each fed after BOS (default 256)\n"
    "  --max-tokens N      score at most N tokens (default: the whole text)\n"
    "  --threads N         CPU threads (default: all)\n"
    "  --json FILE         also write the results as JSON\n"
    "  -h, --help          this text\n";

struct Model {
  dse_model* model = nullptr;
  dse_session* session = nullptr;
  dse_model_info info{};
  ~Model() {
    dse_session_destroy(session);
    dse_model_close(model);
  }
};

bool open_model(const char* path, uint32_t threads, Model& m) {
  dse_session_options options{};
  options.n_threads = threads;
  if (dse_model_open(path, nullptr, &m.model) != DSE_OK ||
      dse_model_get_info(m.model, &m.info) != DSE_OK ||
      dse_session_create(m.model, &options, &m.session) != DSE_OK) {
    std::fprintf(stderr, "dse-eval: %s: %s\n", path, dse_last_error_message());
    return false;
  }
  return true;
}

// log-softmax of `logits` at `token`, and the log-partition for KL.
double log_softmax_at(const float* logits, size_t n, int32_t token) {
  double max = -INFINITY;
  for (size_t i = 0; i < n; ++i) max = std::fmax(max, logits[i]);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - max);
  return double(logits[token]) - max - std::log(sum);
}

double kl_divergence(const float* p_logits, const float* q_logits, size_t n) {
  double max_p = -INFINITY, max_q = -INFINITY;
  for (size_t i = 0; i < n; ++i) {
    max_p = std::fmax(max_p, p_logits[i]);
    max_q = std::fmax(max_q, q_logits[i]);
  }
  double sum_p = 0, sum_q = 0;
  for (size_t i = 0; i < n; ++i) {
    sum_p += std::exp(double(p_logits[i]) - max_p);
    sum_q += std::exp(double(q_logits[i]) - max_q);
  }
  double lzp = max_p + std::log(sum_p), lzq = max_q + std::log(sum_q), kl = 0;
  for (size_t i = 0; i < n; ++i) {
    double lp = p_logits[i] - lzp, lq = q_logits[i] - lzq;
    kl += std::exp(lp) * (lp - lq);
  }
  return kl;
}

}  // namespace

int main(int argc, char** argv) {
  const char* model_path = nullptr;
  const char* text_path = nullptr;
  const char* reference_path = nullptr;
  const char* json_path = nullptr;
  size_t window = 256, max_tokens = 0;
  uint32_t threads = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "dse-eval: %s needs a value\n%s", flag, kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") { std::fputs(kUsage, stdout); return 0; }
    else if (a == "--text") text_path = value("--text");
    else if (a == "--reference") reference_path = value("--reference");
    else if (a == "--json") json_path = value("--json");
    else if (a == "--window") window = std::strtoull(value("--window"), nullptr, 10);
    else if (a == "--max-tokens") max_tokens = std::strtoull(value("--max-tokens"), nullptr, 10);
    else if (a == "--threads") threads = uint32_t(std::strtoul(value("--threads"), nullptr, 10));
    else if (!a.empty() && a[0] == '-') { std::fprintf(stderr, "dse-eval: unknown option %s\n%s", a.c_str(), kUsage); return 2; }
    else if (!model_path) model_path = argv[i];
    else { std::fprintf(stderr, "dse-eval: one model only (got %s)\n", argv[i]); return 2; }
  }
  if (!model_path || !text_path || window == 0) { std::fputs(kUsage, stderr); return 2; }

  std::ifstream in(text_path, std::ios::binary);
  if (!in) { std::fprintf(stderr, "dse-eval: cannot read %s\n", text_path); return 1; }
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  Model model, reference;
  if (!open_model(model_path, threads, model)) return 1;
  if (reference_path && !open_model(reference_path, threads, reference)) return 1;
  if (reference_path && reference.info.vocab_size != model.info.vocab_size) {
    std::fprintf(stderr, "dse-eval: %s has %llu tokens in its vocabulary, %s has %llu\n", reference_path,
                 (unsigned long long)reference.info.vocab_size, model_path, (unsigned long long)model.info.vocab_size);
    return 1;
  }
  if (model.info.bos_id < 0) { std::fprintf(stderr, "dse-eval: the model has no BOS token\n"); return 1; }
  if (window + 1 > model.info.max_seq_len) {
    std::fprintf(stderr, "dse-eval: --window %zu needs a context of %zu tokens; the model was compiled for %llu "
                 "(recompile with a larger --max-seq-len or pass a smaller --window)\n",
                 window, window + 1, (unsigned long long)model.info.max_seq_len);
    return 1;
  }

  size_t n_ids = 0;
  if (dse_model_tokenize(model.model, text.data(), text.size(), 0, nullptr, 0, &n_ids) != DSE_OUT_OF_RANGE && n_ids != 0) {
    std::fprintf(stderr, "dse-eval: tokenize: %s\n", dse_last_error_message());
    return 1;
  }
  std::vector<int32_t> ids(n_ids);
  if (dse_model_tokenize(model.model, text.data(), text.size(), 0, ids.data(), ids.size(), &n_ids) != DSE_OK) {
    std::fprintf(stderr, "dse-eval: tokenize: %s\n", dse_last_error_message());
    return 1;
  }
  if (max_tokens && ids.size() > max_tokens) ids.resize(max_tokens);

  const size_t vocab = model.info.vocab_size;
  const int32_t bos = int32_t(model.info.bos_id);
  double nll = 0, kl_sum = 0;
  size_t scored = 0;
  auto start = std::chrono::steady_clock::now();
  for (size_t begin = 0; begin < ids.size(); begin += window) {
    size_t end = std::min(ids.size(), begin + window);
    dse_session_reset(model.session);
    if (reference_path) dse_session_reset(reference.session);
    for (size_t i = begin; i < end; ++i) {
      // Feed the previous token (BOS for the first of the window), score the current one.
      int32_t feed = i == begin ? bos : ids[i - 1];
      const float* logits = nullptr;
      if (dse_session_forward(model.session, &feed, 1, &logits) != DSE_OK) {
        std::fprintf(stderr, "dse-eval: %s\n", dse_last_error_message());
        return 1;
      }
      nll -= log_softmax_at(logits, vocab, ids[i]);
      if (reference_path) {
        const float* ref_logits = nullptr;
        if (dse_session_forward(reference.session, &feed, 1, &ref_logits) != DSE_OK) {
          std::fprintf(stderr, "dse-eval: reference: %s\n", dse_last_error_message());
          return 1;
        }
        kl_sum += kl_divergence(ref_logits, logits, vocab);
      }
      ++scored;
    }
    std::fprintf(stderr, "\rdse-eval: %zu / %zu tokens", scored, ids.size());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "\n");
  double ppl = std::exp(nll / double(scored));
  std::printf("model %s (%s)\ntokens scored %zu, window %zu\nperplexity %.4f\n", model_path,
              model.info.weight_precision, scored, window, ppl);
  if (reference_path) std::printf("mean KL(reference || model) %.6f\n", kl_sum / double(scored));
  std::printf("time %.1f s\n", seconds);
  if (json_path) {
    FILE* f = std::fopen(json_path, "w");
    if (!f) { std::fprintf(stderr, "dse-eval: cannot write %s\n", json_path); return 1; }
    std::fprintf(f, "{\"model\": \"%s\", \"precision\": \"%s\", \"tokens\": %zu, \"window\": %zu, \"perplexity\": %.6f",
                 model_path, model.info.weight_precision, scored, window, ppl);
    if (reference_path) std::fprintf(f, ", \"reference\": \"%s\", \"mean_kl\": %.8f", reference_path, kl_sum / double(scored));
    std::fprintf(f, ", \"seconds\": %.2f}\n", seconds);
    std::fclose(f);
  }
  return 0;
}
