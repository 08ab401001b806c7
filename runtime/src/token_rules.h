// What one-sequence and batched generation share: the check of a prompt's ids, the timing, and
// what happens to each sampled token (the stop conditions of dse_session_generate, in their
// documented order).
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "dse/runtime/session.h"
#include "dse/runtime/text_streamer.h"
#include "dse/tokenizer/tokenizer.h"

namespace dse::runtime {

// `ids` are all in [0, vocab), or the error names the first that is not: "prompt token K is ID,
// expected an id in [0, vocab)", "prompt I token K ..." for prompt `index` of a batch. Allocates
// only for the error.
inline Status check_prompt_ids(std::span<const int32_t> ids, uint64_t vocab, int64_t index = -1) {
  for (size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] < 0 || uint64_t(ids[k]) >= vocab) {
      const std::string what = index < 0 ? std::string("prompt") : "prompt " + std::to_string(index);
      return Status(StatusCode::invalid_argument, what + " token " + std::to_string(k) + " is " +
                                                      std::to_string(ids[k]) + ", expected an id in [0, " +
                                                      std::to_string(vocab) + ")");
    }
  }
  return Status::Ok();
}

// Seconds since t0, for GenerateResult's prefill and decode times.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// One sequence's state as the rules see it.
struct SequenceState {
  int32_t* history;      // max_seq tokens
  uint64_t& n_context;   // tokens in history
  uint64_t max_seq;
  TextStreamer& streamer;
  std::span<int32_t> out_tokens;  // optional copy of the generated ids
};

// Records `next` in `result`; EOS (or the end-of-turn token) stops without joining the context;
// otherwise the token joins the context and its text is streamed through `emit` (which returns the
// callback's value), then a stop string, a non-zero callback return, max_new_tokens and a full
// context stop, in that order. Returns true when the sequence goes on.
template <typename Emit>
bool accept_token(int32_t next, const GenerateParams& params, int32_t eos, int32_t end_of_turn,
                  const tokenizer::Tokenizer& tok, SequenceState seq, GenerateResult& result, Emit&& emit) {
  if (result.generated_tokens < seq.out_tokens.size()) seq.out_tokens[result.generated_tokens] = next;
  ++result.generated_tokens;
  if ((next == eos || next == end_of_turn) && next >= 0 && !params.ignore_eos) {
    result.stop_reason = StopReason::eos;
    return false;
  }
  seq.history[seq.n_context++] = next;  // processed at the next step, or at the next call

  const std::string_view piece = tok.is_special(next) ? std::string_view() : tok.token_bytes(next);
  const TextStreamer::Ready ready = seq.streamer.push(piece);
  const int cancel = emit(ready.text);
  if (ready.stop_matched) {
    result.stop_reason = StopReason::stop_string;
    return false;
  }
  if (cancel != 0) {
    result.stop_reason = StopReason::cancelled;
    return false;
  }
  if (params.max_new_tokens > 0 && result.generated_tokens >= params.max_new_tokens) {
    result.stop_reason = StopReason::max_tokens;
    return false;
  }
  if (seq.n_context >= seq.max_seq) {
    result.stop_reason = StopReason::context_full;
    return false;
  }
  return true;
}

// Streams what the streamer still holds, unless the sequence stopped on a stop string or a
// cancel; a non-zero callback return then turns the stop into a cancel.
template <typename Emit>
void finish_sequence(TextStreamer& streamer, GenerateResult& result, Emit&& emit) {
  if (result.stop_reason == StopReason::stop_string || result.stop_reason == StopReason::cancelled) return;
  if (emit(streamer.finish()) != 0) result.stop_reason = StopReason::cancelled;
}

}  // namespace dse::runtime
