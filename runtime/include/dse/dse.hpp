// The libdse C++ API: RAII owners of the C handles of dse.h, errors as dse::Status / dse::Result
// (dse/status.h), callbacks as any callable. Header only; no exceptions are thrown.
//
//   auto model = dse::Model::open("model.dse");
//   if (!model.ok()) { std::cerr << model.status().message(); return 1; }
//   auto session = dse::Session::create(*model);
//   dse_generate_params params = {};            // greedy, until EOS
//   params.max_new_tokens = 64;
//   dse::Status st = session->generate("Hello", params, [](std::string_view text) {
//     std::cout << text << std::flush;
//     return true;                               // false stops (Status cancelled)
//   });
//
// Thread safety is that of dse.h: a Model may be shared by threads (it must outlive its
// Sessions); a Session is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dse/dse.h"
#include "dse/status.h"

namespace dse {

// The status of the last C call on this thread, with its message.
inline Status status_from_c(dse_status code) {
  if (code == DSE_OK) return Status::Ok();
  return Status(StatusCode(code), dse_last_error_message());
}

class Model {
 public:
  // Maps and verifies the artifact. `options` may be null (verify everything).
  static Result<Model> open(const std::string& path, const dse_model_options* options = nullptr) {
    dse_model* m = nullptr;
    Status st = status_from_c(dse_model_open(path.c_str(), options, &m));
    if (!st.ok()) return st;
    return Model(m);
  }

  dse_model* get() const { return model_.get(); }

  dse_model_info info() const {
    dse_model_info i{};
    (void)dse_model_get_info(model_.get(), &i);  // cannot fail on a valid handle
    return i;
  }

  // What a session with these options would allocate.
  dse_memory_plan memory_plan(const dse_session_options* options = nullptr) const {
    dse_memory_plan p{};
    (void)dse_model_get_memory_plan(model_.get(), options, &p);
    return p;
  }

  Result<std::vector<int32_t>> tokenize(std::string_view text, bool add_special = false) const {
    size_t n = 0;
    dse_status code = dse_model_tokenize(model_.get(), text.data(), text.size(), add_special, nullptr, 0, &n);
    if (code != DSE_OK && code != DSE_OUT_OF_RANGE) return status_from_c(code);  // OUT_OF_RANGE: measured
    std::vector<int32_t> ids(n);
    Status st = status_from_c(dse_model_tokenize(model_.get(), text.data(), text.size(), add_special, ids.data(), ids.size(), &n));
    if (!st.ok()) return st;
    return ids;
  }

  // Renders messages with the artifact's chat format; flags are DSE_CHAT_*.
  Result<std::string> render_chat(std::span<const dse_chat_message> messages, uint32_t flags) const {
    size_t n = 0;
    dse_status code = dse_model_render_chat(model_.get(), messages.data(), messages.size(), flags, nullptr, 0, &n);
    if (code != DSE_OK && code != DSE_OUT_OF_RANGE) return status_from_c(code);  // OUT_OF_RANGE: measured
    std::string text(n + 1, '\0');
    Status st = status_from_c(dse_model_render_chat(model_.get(), messages.data(), messages.size(), flags, text.data(),
                                                    text.size(), &n));
    if (!st.ok()) return st;
    text.resize(n);
    return text;
  }

 private:
  struct Close {
    void operator()(dse_model* m) const { dse_model_close(m); }
  };
  explicit Model(dse_model* m) : model_(m) {}
  std::unique_ptr<dse_model, Close> model_;
};

class Session {
 public:
  // The model must outlive the session. `options` may be null.
  static Result<Session> create(const Model& model, const dse_session_options* options = nullptr) {
    dse_session* s = nullptr;
    Status st = status_from_c(dse_session_create(model.get(), options, &s));
    if (!st.ok()) return st;
    return Session(s);
  }

  dse_session* get() const { return session_.get(); }
  void reset() { dse_session_reset(session_.get()); }
  uint64_t context_tokens() const { return dse_session_context_tokens(session_.get()); }
  dse_memory_plan memory_plan() const {
    dse_memory_plan p{};
    (void)dse_session_get_memory_plan(session_.get(), &p);
    return p;
  }

  // Generates from `prompt`, calling on_text(std::string_view) for each piece of final text; it
  // returns true to continue, false to stop (the result is then Status cancelled). `result`
  // may be null.
  template <typename OnText>
  Status generate(std::string_view prompt, const dse_generate_params& params, OnText&& on_text,
                  dse_generate_result* result = nullptr) {
    auto call = [&on_text](std::string_view text) -> bool { return on_text(text); };  // an object, also for functions
    return status_from_c(dse_session_generate(session_.get(), prompt.data(), prompt.size(), &params,
                                              &trampoline<decltype(call)>, &call, result));
  }
  Status generate(std::string_view prompt, const dse_generate_params& params, dse_generate_result* result = nullptr) {
    return status_from_c(
        dse_session_generate(session_.get(), prompt.data(), prompt.size(), &params, nullptr, nullptr, result));
  }

  // Generates from several tokenized prompts together (dse_session_generate_batch); on_text(size_t
  // sequence, std::string_view text) returns true to continue that sequence, false to stop it.
  // `results` may be empty, else holds one per prompt.
  template <typename OnText>
  Status generate_batch(std::span<const std::span<const int32_t>> prompts, const dse_generate_params& params,
                        OnText&& on_text, std::span<dse_generate_result> results = {}) {
    if (prompts.size() > kMaxBatchPrompts) {
      return Status(StatusCode::invalid_argument, "generate_batch: more than 64 prompts");
    }
    const int32_t* data[kMaxBatchPrompts];
    size_t lengths[kMaxBatchPrompts];
    for (size_t i = 0; i < prompts.size(); ++i) {
      data[i] = prompts[i].data();
      lengths[i] = prompts[i].size();
    }
    if (!results.empty() && results.size() < prompts.size()) {
      return Status(StatusCode::invalid_argument, "generate_batch: fewer results than prompts");
    }
    auto call = [&on_text](size_t sequence, std::string_view text) -> bool { return on_text(sequence, text); };
    return status_from_c(dse_session_generate_batch(session_.get(), data, lengths, prompts.size(), &params,
                                                    &batch_trampoline<decltype(call)>, &call,
                                                    results.empty() ? nullptr : results.data()));
  }

  // Appends `tokens` and runs the model without sampling; the logits (vocab_size of them) are
  // valid until the next call on this session.
  Result<std::span<const float>> forward(std::span<const int32_t> tokens, uint64_t vocab_size) {
    const float* logits = nullptr;
    Status st = status_from_c(dse_session_forward(session_.get(), tokens.data(), tokens.size(), &logits));
    if (!st.ok()) return st;
    return std::span<const float>(logits, size_t(vocab_size));
  }

  template <typename OnText>
  Status generate_tokens(std::span<const int32_t> tokens, const dse_generate_params& params, OnText&& on_text,
                         dse_generate_result* result = nullptr) {
    auto call = [&on_text](std::string_view text) -> bool { return on_text(text); };
    return status_from_c(dse_session_generate_tokens(session_.get(), tokens.data(), tokens.size(), &params,
                                                     &trampoline<decltype(call)>, &call, result));
  }
  Status generate_tokens(std::span<const int32_t> tokens, const dse_generate_params& params,
                         dse_generate_result* result = nullptr) {
    return status_from_c(dse_session_generate_tokens(session_.get(), tokens.data(), tokens.size(), &params, nullptr,
                                                     nullptr, result));
  }

 private:
  template <typename F>
  static int trampoline(const char* text, size_t length, void* user) {
    return (*static_cast<F*>(user))(std::string_view(text, length)) ? 0 : 1;
  }
  template <typename F>
  static int batch_trampoline(size_t sequence, const char* text, size_t length, void* user) {
    return (*static_cast<F*>(user))(sequence, std::string_view(text, length)) ? 0 : 1;
  }
  static constexpr size_t kMaxBatchPrompts = 64;  // dsc --max-batch's limit
  struct Destroy {
    void operator()(dse_session* s) const { dse_session_destroy(s); }
  };
  explicit Session(dse_session* s) : session_(s) {}
  std::unique_ptr<dse_session, Destroy> session_;
};

}  // namespace dse
