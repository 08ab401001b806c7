// Session creation (regions, weights, programs) and the generation loop.
#include "dse/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "token_rules.h"

namespace dse::runtime {

Result<std::unique_ptr<Session>> Session::create(const LoadedModel& model, const SessionOptions& options) {
  std::unique_ptr<Session> s(new Session());
  s->model_ = &model;
  Result<MemoryPlan> plan = plan_session_memory(model);
  if (!plan.ok()) return plan.status();
  s->plan_ = *plan;
  DSE_RETURN_IF_ERROR(check_memory_limit(s->plan_, options.memory_limit_bytes));
  DSE_RETURN_IF_ERROR(check_available_memory(s->plan_, available_host_memory_bytes()));
  if (s->plan_.on_gpu) {
    Result<std::unique_ptr<GpuBackend>> gpu = create_gpu_backend(model, s->plan_, options.memory_limit_bytes);
    if (!gpu.ok()) return gpu.status();
    s->gpu_ = std::move(gpu).value();
    DSE_RETURN_IF_ERROR(s->create_host_side());
    return s;
  }

  const RegionInfo& wr = model.region(fb::RegionKind::Weights);
  const RegionInfo& kr = model.region(fb::RegionKind::KvCache);
  const RegionInfo& ar = model.region(fb::RegionKind::Arena);
  auto take = [](RegionBuffer& dst, uint64_t bytes, uint64_t alignment, const char* what) -> Status {
    Result<RegionBuffer> b = RegionBuffer::allocate(bytes, alignment, what);
    if (!b.ok()) return b.status();
    dst = std::move(b).value();
    return Status::Ok();
  };
  DSE_RETURN_IF_ERROR(take(s->weights_, s->plan_.weights_resident_bytes, wr.alignment, "decoded weights"));
  DSE_RETURN_IF_ERROR(take(s->kv_cache_, kr.size, kr.alignment, "KV cache"));
  DSE_RETURN_IF_ERROR(take(s->arena_, ar.size, ar.alignment, "activation arena"));

  // Slot addresses: uncompressed weights in place from the mapping, compressed ones decoded
  // once each (in slot order) into the resident weights buffer, the rest at their planned offsets.
  const std::vector<SlotInfo>& slots = model.slots();
  std::vector<void*> addresses(slots.size(), nullptr);
  std::map<int64_t, uint8_t*> decoded;  // segment -> its bytes in weights_
  uint64_t resident_used = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const SlotInfo& slot = slots[i];
    if (slot.region == fb::RegionKind::KvCache) {
      addresses[i] = s->kv_cache_.data() + slot.offset;
    } else if (slot.region == fb::RegionKind::Arena) {
      addresses[i] = s->arena_.data() + slot.offset;
    } else {
      const size_t seg = size_t(slot.segment);
      if (model.reader().segments()[seg].codec == fb::Codec::None) {
        Result<std::span<const std::byte>> bytes = model.reader().segment_bytes(seg);
        if (!bytes.ok()) return bytes.status();
        // Kernels take `void*`; weights are inputs only (the loader checked no kernel writes them).
        addresses[i] = const_cast<std::byte*>(bytes->data());
      } else if (auto it = decoded.find(slot.segment); it != decoded.end()) {
        addresses[i] = it->second;
      } else {
        uint8_t* dst = s->weights_.data() + resident_used;
        DSE_RETURN_IF_ERROR(model.reader().read_segment(seg, {reinterpret_cast<std::byte*>(dst), size_t(slot.size)}));
        resident_used += (slot.size + wr.alignment - 1) / wr.alignment * wr.alignment;
        decoded.emplace(slot.segment, dst);
        addresses[i] = dst;
      }
    }
  }

  const uint32_t threads = options.n_threads ? options.n_threads : std::max(1u, std::thread::hardware_concurrency());
  s->pool_ = std::make_unique<ThreadPool>(int(threads));
  s->prefill_ = ResolvedProgram::resolve(model, model.prefill(), addresses);
  s->decode_ = ResolvedProgram::resolve(model, model.decode(), addresses);

  DSE_RETURN_IF_ERROR(s->create_host_side());
  return s;
}

Status Session::create_host_side() {
  const LoadedModel& model = *model_;
  Result<Sampler> sampler = Sampler::create(int64_t(model.vocab_size()));
  if (!sampler.ok()) return sampler.status();
  sampler_ = std::move(sampler).value();
  Result<TextStreamer> streamer = TextStreamer::create(model.max_token_bytes());
  if (!streamer.ok()) return streamer.status();
  streamer_ = std::move(streamer).value();
  history_.reset(new (std::nothrow) int32_t[size_t(model.max_seq_len())]);
  if (!history_) {
    return Status(StatusCode::out_of_memory, "could not allocate the token history of " +
                                                 std::to_string(model.max_seq_len()) + " tokens");
  }
  prompt_scratch_.reserve(size_t(model.max_seq_len()));

  // One sequence per cache slot for generate_batch (also a batch of one on a one-slot artifact).
  const size_t slots = size_t(model.max_batch());
  batch_.resize(slots);
  for (BatchSequence& b : batch_) {
    b.history.reset(new (std::nothrow) int32_t[size_t(model.max_seq_len())]);
    Result<TextStreamer> s = TextStreamer::create(model.max_token_bytes());
    if (!b.history || !s.ok()) {
      return Status(StatusCode::out_of_memory, "could not allocate the token histories and text streamers of " +
                                                   std::to_string(slots) + " batched sequences");
    }
    b.streamer = std::move(s).value();
  }
  step_tokens_.reset(new (std::nothrow) int32_t[slots]);
  step_ids_.reset(new (std::nothrow) int32_t[slots]);
  if (!step_tokens_ || !step_ids_) return Status(StatusCode::out_of_memory, "could not allocate the batch step");
  return Status::Ok();
}

StepInfo Session::one_sequence_step(uint64_t n_tokens, uint64_t start_pos, uint64_t slot) const {
  StepInfo step;
  step.n_tokens = int64_t(n_tokens);
  step.start_pos = int64_t(start_pos);
  step.slot = int64_t(slot);
  step.slots = int64_t(model_->max_batch());
  return step;
}

Status Session::run_program(bool decode, const int32_t* tokens, const StepInfo& step) {
  if (gpu_) return gpu_->run(decode ? GpuBackend::Entry::decode : GpuBackend::Entry::prefill, tokens, step);
  const ResolvedProgram& program = decode ? decode_ : prefill_;
  std::copy_n(tokens, step.n_tokens, program.tokens());
  DSE_RETURN_IF_ERROR(program.run(step, pool_.get()));
  last_program_logits_ = program.logits();
  return Status::Ok();
}

void Session::reset() {
  n_context_ = 0;
  n_processed_ = 0;
}

// Runs the model on history_[n_processed_, n_context_): one decode step for a single token,
// otherwise prefill chunks. Afterwards the logits are those of the last context token.
Status Session::process_pending() {
  const uint64_t chunk = model_->prefill().max_tokens;
  while (n_processed_ < n_context_) {
    const uint64_t pending = n_context_ - n_processed_;
    const uint64_t n = pending == 1 ? 1 : std::min(pending, chunk);
    DSE_RETURN_IF_ERROR(run_program(pending == 1, history_.get() + n_processed_, one_sequence_step(n, n_processed_, 0)));
    n_processed_ += n;
  }
  return Status::Ok();
}

Status Session::append_and_process(std::span<const int32_t> tokens, uint64_t& prompt_tokens) {
  const uint64_t max_seq = model_->max_seq_len();
  const uint64_t vocab = model_->vocab_size();
  if (n_context_ + tokens.size() > max_seq) {
    return Status(StatusCode::out_of_range,
                  "the prompt has " + std::to_string(tokens.size()) + " tokens and the context already holds " +
                      std::to_string(n_context_) + ", together more than the planned context of " +
                      std::to_string(max_seq) + " tokens (max_seq_len); shorten the prompt, reset the session, "
                      "or recompile the model with a larger --max-seq-len");
  }
  DSE_RETURN_IF_ERROR(check_prompt_ids(tokens, vocab));
  if (n_context_ + tokens.size() == 0) {
    return Status(StatusCode::invalid_argument,
                  "nothing to run: the context is empty and so is the prompt; pass at least one token");
  }
  std::copy(tokens.begin(), tokens.end(), history_.get() + n_context_);
  prompt_tokens = n_context_ + tokens.size() - n_processed_;
  n_context_ += tokens.size();

  // Prefill. If the context was already processed (a continuation with an empty prompt after an
  // EOS stop), the last token is processed again to get its logits: its cache rows are
  // rewritten with the same values.
  if (n_processed_ == n_context_) {
    --n_processed_;
    prompt_tokens = 1;
  }
  Status st = process_pending();
  if (!st.ok()) {
    n_context_ = n_processed_;  // what failed to run is not part of the context
    return st;
  }
  return Status::Ok();
}

Status Session::forward(std::span<const int32_t> tokens, const float** logits) {
  uint64_t processed = 0;
  DSE_RETURN_IF_ERROR(append_and_process(tokens, processed));
  Result<float*> host = host_logits(1);
  if (!host.ok()) return host.status();
  *logits = *host;
  return Status::Ok();
}

Result<float*> Session::host_logits(size_t rows) {
  if (gpu_) return gpu_->logits_to_host(rows);
  return last_program_logits_;
}

Result<int32_t> Session::sample_next(const SamplerParams& params) {
  const std::span<const int32_t> window = penalty_window(history_.get(), n_context_, params);
  const bool penalty = params.repetition_penalty > 0.0f && params.repetition_penalty != 1.0f && !window.empty();
  if (gpu_ && !(params.temperature > 0.0f) && !penalty) return gpu_->argmax();
  Result<float*> logits = host_logits(1);
  if (!logits.ok()) return logits.status();
  return sampler_.sample({*logits, size_t(model_->vocab_size())}, window, params);
}

Status Session::generate_tokens(std::span<const int32_t> tokens, const GenerateParams& params, TextCallback callback,
                                void* user_data, GenerateResult& result) {
  result = GenerateResult{};
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t max_seq = model_->max_seq_len();

  DSE_RETURN_IF_ERROR(streamer_.begin(params.stop_strings));
  DSE_RETURN_IF_ERROR(append_and_process(tokens, result.prompt_tokens));
  sampler_.reseed(params.sampler.seed);
  if (n_context_ >= max_seq) {
    // The prompt filled the planned context: there is no room for a generated token.
    result.stop_reason = StopReason::context_full;
    result.prefill_seconds = seconds_since(t0);
    return Status::Ok();
  }

  const int32_t eos = model_->eos_id();
  const int32_t end_of_turn = model_->end_of_turn_id();
  const tokenizer::Tokenizer& tok = model_->tokenizer();
  auto emit = [&](std::string_view text) {
    return text.empty() || callback == nullptr ? 0 : callback(text.data(), text.size(), user_data);
  };
  auto t_first = t0;
  const SequenceState seq{history_.get(), n_context_, max_seq, streamer_, params.out_tokens};
  while (true) {
    Result<int32_t> sampled = sample_next(params.sampler);
    if (!sampled.ok()) return sampled.status();
    if (result.generated_tokens == 0) {
      result.prefill_seconds = seconds_since(t0);
      t_first = std::chrono::steady_clock::now();
    }
    if (!accept_token(*sampled, params, eos, end_of_turn, tok, seq, result, emit)) break;
    Status st = process_pending();
    if (!st.ok()) {
      n_context_ = n_processed_;
      return st;
    }
  }
  finish_sequence(streamer_, result, emit);
  result.decode_seconds = result.generated_tokens > 0 ? seconds_since(t_first) : 0.0;
  if (result.stop_reason == StopReason::cancelled) {
    return Status(StatusCode::cancelled, "generation cancelled by the text callback after " +
                                             std::to_string(result.generated_tokens) + " tokens");
  }
  return Status::Ok();
}

Status Session::generate_text(std::string_view text, const GenerateParams& params, TextCallback callback,
                              void* user_data, GenerateResult& result) {
  result = GenerateResult{};
  DSE_RETURN_IF_ERROR(model_->encode(text, /*add_special=*/false, prompt_scratch_));
  const tokenizer::TokenizerData& data = model_->tokenizer().data();
  if (n_context_ == 0 && data.add_bos && data.bos_id >= 0 &&
      (prompt_scratch_.empty() || prompt_scratch_.front() != int32_t(data.bos_id))) {
    prompt_scratch_.insert(prompt_scratch_.begin(), int32_t(data.bos_id));
  }
  return generate_tokens(prompt_scratch_, params, callback, user_data, result);
}

}  // namespace dse::runtime
