// Session: one conversation on one model: its regions, resolved programs, sampler and token
// history; generate() streams text and allocates nothing. One thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "dse/cpu/thread_pool.h"
#include "dse/runtime/executor.h"
#include "dse/runtime/gpu_backend.h"
#include "dse/runtime/loaded_model.h"
#include "dse/runtime/memory_plan.h"
#include "dse/runtime/sampler.h"
#include "dse/runtime/text_streamer.h"
#include "dse/status.h"

namespace dse::runtime {

struct SessionOptions {
  uint64_t memory_limit_bytes = 0;  // 0: no limit
  uint32_t n_threads = 0;           // 0: every hardware thread
};

enum class StopReason { none = 0, eos = 1, max_tokens = 2, stop_string = 3, cancelled = 4, context_full = 5 };

// Same signature as dse_text_callback: return non-zero to stop.
using TextCallback = int (*)(const char* text, size_t length, void* user_data);

// Same signature as dse_batch_callback: text of sequence `sequence` of a batch; non-zero stops
// that sequence only.
using BatchTextCallback = int (*)(size_t sequence, const char* text, size_t length, void* user_data);

struct GenerateParams {
  uint32_t max_new_tokens = 0;  // 0: until EOS, a stop string or a full context
  SamplerParams sampler;
  std::span<const std::string_view> stop_strings;  // borrowed for the call
  bool ignore_eos = false;
  std::span<int32_t> out_tokens;  // optional: receives the generated ids
};

struct GenerateResult {
  uint64_t prompt_tokens = 0;
  uint64_t generated_tokens = 0;
  StopReason stop_reason = StopReason::none;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class Session {
 public:
  // Plans, checks the memory limit, allocates the regions, decodes compressed weights, resolves
  // the programs. `model` must outlive the session.
  static Result<std::unique_ptr<Session>> create(const LoadedModel& model, const SessionOptions& options);

  // Appends `tokens` to the context, prefills what the KV cache lacks (in chunks), then samples
  // and streams up to params.max_new_tokens tokens. See dse_session_generate for the contract.
  Status generate_tokens(std::span<const int32_t> tokens, const GenerateParams& params, TextCallback callback,
                         void* user_data, GenerateResult& result);

  // Tokenizes `text` (BOS first at position 0 when the tokenizer adds one and the text does not
  // start with it), then generate_tokens. Tokenizing may allocate; the rest does not.
  Status generate_text(std::string_view text, const GenerateParams& params, TextCallback callback, void* user_data,
                       GenerateResult& result);

  // Appends `tokens` and runs the model without sampling; *logits points to the logits after the
  // last context token (session-owned, valid until the next call). See dse_session_forward.
  Status forward(std::span<const int32_t> tokens, const float** logits);

  // Generates continuations of prompts.size() token prompts together (at most model().max_batch(),
  // each non-empty): prompt i is prefilled into KV cache slot i, then every decode step advances
  // all sequences at once, reading the weights once for all of them. Starts from empty contexts and
  // leaves the session reset (its conversation shares slot 0). params apply to every sequence;
  // sequence i samples with seed params.sampler.seed + i; params.out_tokens, when given, is split
  // evenly (sequence i's ids from i * (size / n)). Each sequence stops on its own (results[i]; a
  // callback's non-zero return stops its sequence only, with StopReason::cancelled). Allocates nothing.
  Status generate_batch(std::span<const std::span<const int32_t>> prompts, const GenerateParams& params,
                        BatchTextCallback callback, void* user_data, std::span<GenerateResult> results);

  void reset();
  uint64_t context_tokens() const { return n_context_; }
  std::span<const int32_t> context() const { return {history_.get(), size_t(n_context_)}; }
  const MemoryPlan& memory_plan() const { return plan_; }
  const LoadedModel& model() const { return *model_; }
  // The device side of a GPU session; null for a CPU session.
  const GpuBackend* gpu_backend() const { return gpu_.get(); }

 private:
  Session() = default;
  Status process_pending();
  // Runs the prefill or decode program on `tokens` (step.n_tokens of them) on the CPU or the GPU.
  Status run_program(bool decode, const int32_t* tokens, const StepInfo& step);
  // A step of one sequence in cache slot `slot`: n_tokens tokens from position start_pos.
  StepInfo one_sequence_step(uint64_t n_tokens, uint64_t start_pos, uint64_t slot) const;
  // Prefills batch sequence i's prompt (all of its history) into slot i.
  Status prefill_slot(size_t i);
  // Samples batch sequence i's next token from its logits row (modified in place) with its stream.
  int32_t sample_batch_row(size_t i, float* logits, const SamplerParams& params);
  // Sampler, text streamer, token history and prompt scratch: the host side of every session.
  Status create_host_side();
  // The next token from the last logits: on the device for greedy without a penalty on a GPU
  // session (only the id crosses the bus); otherwise on the host (GPU logits copied first).
  Result<int32_t> sample_next(const SamplerParams& params);
  // Host pointer to the first `rows` rows of the last logits (copied from the device for a GPU
  // session): prefill leaves one row, a batched decode step one per sequence.
  Result<float*> host_logits(size_t rows);
  // Checks `tokens`, appends them and runs what the cache lacks (the last token again when
  // nothing is new). `prompt_tokens` receives how many tokens were run.
  Status append_and_process(std::span<const int32_t> tokens, uint64_t& prompt_tokens);

  const LoadedModel* model_ = nullptr;
  MemoryPlan plan_;
  RegionBuffer weights_, kv_cache_, arena_;
  std::unique_ptr<GpuBackend> gpu_;  // GPU artifacts: regions, programs and graphs on the device
  std::unique_ptr<ThreadPool> pool_;
  ResolvedProgram prefill_, decode_;
  Sampler sampler_;
  TextStreamer streamer_;
  std::unique_ptr<int32_t[]> history_;  // max_seq_len tokens
  uint64_t n_context_ = 0;    // tokens in history_
  uint64_t n_processed_ = 0;  // tokens whose keys and values are in the KV cache
  float* last_program_logits_ = nullptr;  // logits of history_[n_processed_ - 1]
  std::vector<int32_t> prompt_scratch_;  // text prompts are tokenized into this

  // Batched generation (artifacts compiled with --max-batch > 1): one sequence per cache slot.
  struct BatchSequence {
    std::unique_ptr<int32_t[]> history;  // max_seq_len tokens
    uint64_t n_context = 0;
    TextStreamer streamer;
    Rng rng;
    bool active = false;
  };
  std::vector<BatchSequence> batch_;
  std::unique_ptr<int32_t[]> step_tokens_;  // the ids of one batched decode step (max_batch)
  std::unique_ptr<int32_t[]> step_ids_;     // the device argmax of each row (max_batch)
};

}  // namespace dse::runtime
