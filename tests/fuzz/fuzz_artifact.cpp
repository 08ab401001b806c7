// libFuzzer harness: an untrusted artifact, as bytes, through everything that reads it. The reader
// (open, verify_all_segments, read_segment) and, when the runtime is built, dse_model_open, the
// model queries, dse_session_create and a few short generations. Each input runs twice: as is
// (header, checksum and truncation checks) and with its checksums fixed (fix_artifact_checksums),
// so that mutations also reach the metadata verifier, the loader's validation and the kernels.
//
// A failure is anything the sanitizers or libFuzzer see (crash, out-of-bounds access, UB, leak,
// timeout, a huge allocation) and any broken API contract, which traps: an error without a
// message, an undocumented status code, DSE_INTERNAL, a prompt longer than the context accepted,
// streamed text that is not whole valid UTF-8.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

#include "artifact_fixup.h"
#include "dse/formats/artifact_reader.h"

#ifdef DSE_FUZZ_HAVE_RUNTIME
#include "dse/dse.h"
#include "dse/tokenizer/utf8.h"
#endif

namespace {

// Sessions get at most this much memory: a hostile artifact may ask for terabytes, and the
// runtime must refuse that with DSE_OUT_OF_MEMORY instead of trying (libFuzzer's own malloc
// limit, 2 GiB by default, would report an attempt as a crash).
constexpr uint64_t kSessionMemoryLimit = 256ull << 20;
// Segments larger than this are not decoded by the reader pass (the session decodes them anyway,
// inside the limit above).
constexpr uint64_t kMaxDecodedSegment = 64ull << 20;

[[noreturn]] void contract_violation(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_artifact: contract violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

// One memfd for the whole process, rewritten for every input: no files pile up in /tmp, and the
// reader sees a regular file it can mmap, as it would a real artifact.
class MemFile {
 public:
  MemFile() {
    fd_ = ::memfd_create("fuzz-artifact", MFD_CLOEXEC);
    if (fd_ < 0) contract_violation("memfd_create failed", std::to_string(errno));
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  const std::string& write(std::span<const uint8_t> bytes) {
    if (::ftruncate(fd_, 0) != 0) contract_violation("ftruncate failed", std::to_string(errno));
    size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done, off_t(done));
      if (n <= 0) contract_violation("pwrite failed", std::to_string(errno));
      done += size_t(n);
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

void check_status(const dse::Status& st, const char* call) {
  if (!st.ok() && st.message().empty()) contract_violation(call, "failed without a message");
  if (st.code() == dse::StatusCode::internal) contract_violation(call, st.message());
}

void exercise_reader(const std::string& path) {
  auto reader = dse::formats::ArtifactReader::open(path);
  check_status(reader.status(), "ArtifactReader::open");
  if (!reader.ok()) return;
  if (reader->metadata() == nullptr) contract_violation("ArtifactReader::open", "ok but no metadata");
  check_status(reader->verify_all_segments(), "verify_all_segments");
  const auto& segments = reader->segments();
  std::vector<std::byte> buffer;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].raw_size > kMaxDecodedSegment) continue;
    buffer.assign(size_t(segments[i].raw_size), std::byte{0});
    check_status(reader->read_segment(i, buffer), "read_segment");
  }
  if (reader->segment_bytes(segments.size()).ok()) {
    contract_violation("segment_bytes", "accepted the index one past the last segment");
  }
}

#ifdef DSE_FUZZ_HAVE_RUNTIME

void check_c_status(dse_status st, const char* call) {
  switch (st) {
    case DSE_OK:
      return;
    case DSE_INVALID_ARGUMENT: case DSE_OUT_OF_RANGE: case DSE_CANCELLED: case DSE_NOT_FOUND:
    case DSE_IO_ERROR: case DSE_CORRUPT_DATA: case DSE_UNSUPPORTED: case DSE_TARGET_MISMATCH:
    case DSE_OUT_OF_MEMORY: {
      const char* message = dse_last_error_message();
      if (message == nullptr || message[0] == '\0') contract_violation(call, "failed without a message");
      return;
    }
    case DSE_INTERNAL:
      contract_violation(call, std::string("DSE_INTERNAL: ") + dse_last_error_message());
    default:
      contract_violation(call, "returned undocumented status " + std::to_string(st));
  }
}

struct CallbackState {
  int calls = 0;
  int cancel_after = 0;  // 0: never cancel
};

// Checks what dse.h promises about streamed text (whole, valid UTF-8 characters) and stops
// generation after `cancel_after` pieces, to exercise cancellation as well.
int check_text_and_maybe_cancel(const char* text, size_t length, void* user_data) {
  auto* state = static_cast<CallbackState*>(user_data);
  if (text == nullptr && length > 0) contract_violation("text callback", "NULL text with a length");
  const std::string_view piece(text, length);
  if (dse::tokenizer::find_invalid_utf8(piece) != piece.size()) {
    contract_violation("text callback", "received invalid or split UTF-8 (" + std::to_string(length) + " bytes)");
  }
  ++state->calls;
  return state->cancel_after > 0 && state->calls >= state->cancel_after ? 1 : 0;
}

void exercise_session(dse_model* model, const dse_model_info& info, std::span<const uint8_t> input) {
  dse_session_options options{};
  options.memory_limit_bytes = kSessionMemoryLimit;
  options.n_threads = 1;
  dse_memory_plan plan{};
  check_c_status(dse_model_get_memory_plan(model, &options, &plan), "dse_model_get_memory_plan");
  dse_session* session = nullptr;
  const dse_status created = dse_session_create(model, &options, &session);
  check_c_status(created, "dse_session_create");
  if (created != DSE_OK) return;

  // A text prompt, greedy, a few tokens.
  dse_generate_params params{};
  params.max_new_tokens = 4;
  dse_generate_result result{};
  CallbackState greedy_state;
  check_c_status(dse_session_generate(session, "ab c", 4, &params, check_text_and_maybe_cancel, &greedy_state, &result),
                 "dse_session_generate");

  // Token ids taken from the input (some out of range, some negative), sampled decoding, a stop
  // string and a callback that cancels.
  std::vector<int32_t> ids;
  for (size_t i = 0; i + 2 <= input.size() && ids.size() < 8; i += 97) {
    const int32_t raw = int32_t(input[i] | (input[i + 1] << 8));
    ids.push_back(info.vocab_size > 0 && (raw & 1) ? int32_t(uint64_t(raw) % info.vocab_size) : raw - 1000);
  }
  const char* stops[] = {"\n", "ab"};
  params.temperature = 0.8f;
  params.top_k = 5;
  params.top_p = 0.9f;
  params.min_p = 0.01f;
  params.repetition_penalty = 1.1f;
  params.seed = input.size();
  params.stop_strings = stops;
  params.n_stop_strings = 2;
  int32_t out_tokens[4];
  params.out_tokens = out_tokens;
  params.out_tokens_capacity = 4;
  CallbackState sampled_state;
  sampled_state.cancel_after = 3;
  check_c_status(dse_session_generate_tokens(session, ids.data(), ids.size(), &params, check_text_and_maybe_cancel,
                                             &sampled_state, &result),
                 "dse_session_generate_tokens");
  dse_session_reset(session);
  // Fill the whole planned context (up to 64 tokens): the artifact's max_seq_len may claim more
  // than its KV cache holds, and the kernels must then stop with out_of_range at the cache's end.
  if (info.vocab_size > 0) {
    std::vector<int32_t> fill(size_t(info.max_seq_len < 64 ? info.max_seq_len : 64));
    for (size_t i = 0; i < fill.size(); ++i) fill[i] = int32_t((i * 7919) % info.vocab_size);
    dse_generate_params greedy{};
    greedy.max_new_tokens = 2;
    check_c_status(dse_session_generate_tokens(session, fill.data(), fill.size(), &greedy, nullptr, nullptr, &result),
                   "dse_session_generate_tokens (full context)");
    dse_session_reset(session);
  }
  // Batched generation: as many prompts as the artifact claims to take (and one more, which must
  // be refused), cut from the input's ids, with a per-sequence callback that checks the text.
  {
    const size_t n = size_t(info.max_batch < 4 ? info.max_batch : 4) + 1;
    std::vector<const int32_t*> prompts(n, ids.data());
    std::vector<size_t> lengths(n);
    for (size_t i = 0; i < n; ++i) lengths[i] = ids.empty() ? 0 : 1 + i % ids.size();
    std::vector<dse_generate_result> results(n);
    dse_generate_params batch{};
    batch.max_new_tokens = 3;
    CallbackState state;
    state.cancel_after = 5;
    auto on_text = [](size_t sequence, const char* text, size_t length, void* user) -> int {
      if (sequence >= 4) contract_violation("batch callback", "sequence index " + std::to_string(sequence));
      return check_text_and_maybe_cancel(text, length, user);
    };
    for (size_t count : {n - 1, n}) {
      const dse_status st = dse_session_generate_batch(session, prompts.data(), lengths.data(), count, &batch, on_text,
                                                       &state, results.data());
      check_c_status(st, "dse_session_generate_batch");
      if (count > info.max_batch && st == DSE_OK)
        contract_violation("dse_session_generate_batch", "accepted more prompts than max_batch");
    }
  }
  // A prompt longer than any context this harness lets through must be refused, not overflow.
  if (info.max_seq_len < 4096) {
    std::vector<int32_t> long_prompt(size_t(info.max_seq_len) + 1, 0);
    const dse_status st = dse_session_generate_tokens(session, long_prompt.data(), long_prompt.size(), &params,
                                                      nullptr, nullptr, &result);
    check_c_status(st, "dse_session_generate_tokens (prompt longer than the context)");
    if (st == DSE_OK) contract_violation("dse_session_generate_tokens", "accepted a prompt longer than max_seq_len");
  }
  dse_session_destroy(session);
}

void exercise_runtime(const std::string& path, std::span<const uint8_t> input) {
  dse_model* model = nullptr;
  const dse_status opened = dse_model_open(path.c_str(), nullptr, &model);
  check_c_status(opened, "dse_model_open");
  if (opened != DSE_OK) {
    if (model != nullptr) contract_violation("dse_model_open", "failed but returned a model");
    return;
  }
  dse_model_info info{};
  check_c_status(dse_model_get_info(model, &info), "dse_model_get_info");

  size_t count = 0;
  int32_t ids[64];
  static const char kText[] = "Hello, world! 你好 <｜begin▁of▁sentence｜> \xff\xfe";
  check_c_status(dse_model_tokenize(model, kText, sizeof kText - 1, 1, ids, 64, &count), "dse_model_tokenize");
  check_c_status(dse_model_tokenize(model, kText, 13, 1, ids, 0, &count), "dse_model_tokenize (measure)");
  const int32_t probes[] = {0, 1, int32_t(info.vocab_size) - 1, int32_t(info.vocab_size), -1, INT32_MAX};
  for (int32_t id : probes) {
    const char* text = nullptr;
    size_t length = 0;
    check_c_status(dse_model_token_text(model, id, &text, &length), "dse_model_token_text");
  }
  const dse_chat_message messages[] = {{DSE_ROLE_SYSTEM, "be brief"}, {DSE_ROLE_USER, "hi"}};
  char rendered[256];
  size_t rendered_length = 0;
  check_c_status(dse_model_render_chat(model, messages, 2, DSE_CHAT_BEGIN | DSE_CHAT_GENERATION_PROMPT, rendered,
                                       sizeof rendered, &rendered_length),
                 "dse_model_render_chat");

  exercise_session(model, info, input);
  dse_model_close(model);
}

#endif  // DSE_FUZZ_HAVE_RUNTIME

void run_one(MemFile& file, std::span<const uint8_t> bytes) {
  const std::string& path = file.write(bytes);
  exercise_reader(path);
#ifdef DSE_FUZZ_HAVE_RUNTIME
  exercise_runtime(path, bytes);
#endif
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static MemFile file;
  const std::span<const uint8_t> input(data, size);
  run_one(file, input);
  const std::vector<uint8_t> fixed = dse::fuzz::fix_artifact_checksums(input);
  if (!fixed.empty()) run_one(file, fixed);
  return 0;
}
