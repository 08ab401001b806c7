// Batched generation: up to max_batch sequences, one per KV cache slot, advanced together by one
// decode step per token so that the weights are read once for all of them.
#include <algorithm>
#include <chrono>
#include <string>

#include "dse/runtime/session.h"
#include "token_rules.h"

namespace dse::runtime {

Status Session::prefill_slot(size_t i) {
  BatchSequence& b = batch_[i];
  const uint64_t chunk = model_->prefill().max_tokens;
  for (uint64_t done = 0; done < b.n_context;) {
    const uint64_t n = std::min(b.n_context - done, chunk);
    DSE_RETURN_IF_ERROR(run_program(false, b.history.get() + done, one_sequence_step(n, done, i)));
    done += n;
  }
  return Status::Ok();
}

int32_t Session::sample_batch_row(size_t i, float* logits, const SamplerParams& params) {
  BatchSequence& b = batch_[i];
  return sampler_.sample({logits, size_t(model_->vocab_size())}, penalty_window(b.history.get(), b.n_context, params),
                         params, b.rng);
}

Status Session::generate_batch(std::span<const std::span<const int32_t>> prompts, const GenerateParams& params,
                               BatchTextCallback callback, void* user_data, std::span<GenerateResult> results) {
  const size_t n = prompts.size();
  const uint64_t max_seq = model_->max_seq_len(), vocab = model_->vocab_size();
  if (n == 0 || n > batch_.size()) {
    return Status(StatusCode::invalid_argument,
                  "generate_batch got " + std::to_string(n) + " prompts; this artifact generates 1 to " +
                      std::to_string(std::max<size_t>(batch_.size(), 1)) +
                      " together (recompile with dsc --max-batch N for more)");
  }
  if (results.size() < n) {
    return Status(StatusCode::invalid_argument, "generate_batch: " + std::to_string(n) + " prompts but room for " +
                                                    std::to_string(results.size()) + " results");
  }
  for (size_t i = 0; i < n; ++i) {
    if (prompts[i].empty() || prompts[i].size() >= max_seq) {
      return Status(StatusCode::out_of_range, "prompt " + std::to_string(i) + " has " +
                                                  std::to_string(prompts[i].size()) + " tokens; a batched prompt needs 1 to " +
                                                  std::to_string(max_seq - 1) + " (the planned context is " +
                                                  std::to_string(max_seq) + " tokens)");
    }
    DSE_RETURN_IF_ERROR(check_prompt_ids(prompts[i], vocab, int64_t(i)));
  }
  reset();  // the one-sequence conversation lives in slot 0, which the batch overwrites
  const size_t per_sequence_out = params.out_tokens.size() / n;
  for (size_t i = 0; i < n; ++i) {
    BatchSequence& b = batch_[i];
    DSE_RETURN_IF_ERROR(b.streamer.begin(params.stop_strings));
    std::copy(prompts[i].begin(), prompts[i].end(), b.history.get());
    b.n_context = prompts[i].size();
    b.rng.reseed(params.sampler.seed + i);
    b.active = true;
    results[i] = GenerateResult{};
    results[i].prompt_tokens = prompts[i].size();
  }

  const int32_t eos = model_->eos_id();
  const int32_t end_of_turn = model_->end_of_turn_id();
  const tokenizer::Tokenizer& tok = model_->tokenizer();
  const SamplerParams& sp = params.sampler;
  const bool penalty = sp.repetition_penalty > 0.0f && sp.repetition_penalty != 1.0f;
  const bool greedy_on_device = gpu_ && !(sp.temperature > 0.0f) && !penalty;
  auto accept = [&](size_t i, int32_t next) {
    BatchSequence& b = batch_[i];
    auto emit = [&](std::string_view text) {
      return text.empty() || callback == nullptr ? 0 : callback(i, text.data(), text.size(), user_data);
    };
    const SequenceState seq{b.history.get(), b.n_context, max_seq, b.streamer,
                            params.out_tokens.subspan(i * per_sequence_out, per_sequence_out)};
    b.active = accept_token(next, params, eos, end_of_turn, tok, seq, results[i], emit);
    if (!b.active) finish_sequence(b.streamer, results[i], emit);
  };

  // Prefill: each prompt into its slot, then its first token from the logits of its last one.
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    DSE_RETURN_IF_ERROR(prefill_slot(i));
    int32_t next = 0;
    if (greedy_on_device) {
      Result<int32_t> id = gpu_->argmax();
      if (!id.ok()) return id.status();
      next = *id;
    } else {
      Result<float*> logits = host_logits(1);
      if (!logits.ok()) return logits.status();
      next = sample_batch_row(i, *logits, sp);
    }
    results[i].prefill_seconds = seconds_since(t0);
    accept(i, next);
  }

  // Decode: row i is sequence i at its last context token. A stopped sequence runs its last token
  // again at the same position, which rewrites its cache row with the same values: every step has
  // n rows, so the mapping of rows to slots never changes.
  const auto t_decode = std::chrono::steady_clock::now();
  StepInfo step;
  step.n_tokens = int64_t(n);
  step.slots = int64_t(model_->max_batch());
  step.batched = 1;
  while (std::any_of(batch_.begin(), batch_.begin() + ptrdiff_t(n), [](const BatchSequence& b) { return b.active; })) {
    for (size_t i = 0; i < n; ++i) {
      step_tokens_[i] = batch_[i].history[batch_[i].n_context - 1];
      step.positions[i] = int64_t(batch_[i].n_context - 1);
    }
    DSE_RETURN_IF_ERROR(run_program(true, step_tokens_.get(), step));
    float* logits = nullptr;
    if (greedy_on_device) {
      DSE_RETURN_IF_ERROR(gpu_->argmax_rows(n, step_ids_.get()));
    } else {
      Result<float*> host = host_logits(n);
      if (!host.ok()) return host.status();
      logits = *host;
    }
    for (size_t i = 0; i < n; ++i) {
      if (!batch_[i].active) continue;
      accept(i, greedy_on_device ? step_ids_[i] : sample_batch_row(i, logits + i * model_->vocab_size(), sp));
    }
  }
  const double decode_seconds = seconds_since(t_decode);
  for (size_t i = 0; i < n; ++i) results[i].decode_seconds = results[i].generated_tokens > 1 ? decode_seconds : 0.0;
  return Status::Ok();
}

}  // namespace dse::runtime
