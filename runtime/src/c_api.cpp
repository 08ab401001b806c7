// The C API (dse.h): handles around LoadedModel and Session, status codes and per-thread
// error messages. Nothing here throws: every C++ exception is caught at the boundary.
#include "dse/dse.h"

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "dse/runtime/chat_format.h"
#include "dse/runtime/loaded_model.h"
#include "dse/runtime/memory_plan.h"
#include "dse/runtime/session.h"

using dse::Status;
using dse::StatusCode;
namespace rt = dse::runtime;

struct dse_model {
  std::unique_ptr<rt::LoadedModel> model;
  dse_model_info info{};
};

struct dse_session {
  std::unique_ptr<rt::Session> session;
};

static_assert(DSE_OK == int32_t(StatusCode::ok) && DSE_INVALID_ARGUMENT == int32_t(StatusCode::invalid_argument) &&
              DSE_OUT_OF_RANGE == int32_t(StatusCode::out_of_range) && DSE_CANCELLED == int32_t(StatusCode::cancelled) &&
              DSE_NOT_FOUND == int32_t(StatusCode::not_found) && DSE_IO_ERROR == int32_t(StatusCode::io_error) &&
              DSE_CORRUPT_DATA == int32_t(StatusCode::corrupt_data) &&
              DSE_UNSUPPORTED == int32_t(StatusCode::unsupported) &&
              DSE_TARGET_MISMATCH == int32_t(StatusCode::target_mismatch) &&
              DSE_OUT_OF_MEMORY == int32_t(StatusCode::out_of_memory) && DSE_INTERNAL == int32_t(StatusCode::internal),
              "dse.h status codes must equal dse::StatusCode");

namespace {

thread_local std::string g_last_error;

dse_status fail(const Status& st) {
  try {
    g_last_error = st.message();
  } catch (...) {
    g_last_error.clear();
  }
  return dse_status(st.code());
}

dse_status fail(StatusCode code, const char* message) { return fail(Status(code, message)); }

// Runs `body`, turning a std::bad_alloc or any other exception into a status.
template <typename F>
dse_status guarded(F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return fail(StatusCode::out_of_memory, "a host allocation failed (std::bad_alloc)");
  } catch (const std::exception& e) {
    return fail(Status(StatusCode::internal, std::string("unexpected exception: ") + e.what()));
  } catch (...) {
    return fail(StatusCode::internal, "unexpected exception");
  }
}

rt::SessionOptions session_options(const dse_session_options* o) {
  rt::SessionOptions out;
  if (o) {
    out.memory_limit_bytes = o->memory_limit_bytes;
    out.n_threads = o->n_threads;
  }
  return out;
}

void fill_plan(const rt::MemoryPlan& p, dse_memory_plan* out) {
  out->weights_region_bytes = p.weights_region_bytes;
  out->weights_mapped_bytes = p.weights_mapped_bytes;
  out->weights_resident_bytes = p.weights_resident_bytes;
  out->kv_cache_bytes = p.kv_cache_bytes;
  out->arena_bytes = p.arena_bytes;
  out->host_scratch_bytes = p.host_scratch_bytes;
  out->total_allocated_bytes = p.total_allocated_bytes();
  out->gpu_workspace_bytes = p.gpu_workspace_bytes;
  out->device_bytes = p.device_bytes();
  out->on_gpu = p.on_gpu ? 1 : 0;
  out->gpu_integrated = p.gpu_integrated ? 1 : 0;
}

void fill_result(const rt::GenerateResult& r, dse_generate_result* out) {
  if (!out) return;
  out->prompt_tokens = r.prompt_tokens;
  out->generated_tokens = r.generated_tokens;
  out->stop_reason = dse_stop_reason(int(r.stop_reason));
  out->prefill_seconds = r.prefill_seconds;
  out->decode_seconds = r.decode_seconds;
}

// Converts the C parameters without allocating: stop strings go into `stops` (caller's array).
dse_status convert_params(const dse_generate_params* p, std::string_view (&stops)[rt::TextStreamer::kMaxStopStrings],
                          rt::GenerateParams& out) {
  out = rt::GenerateParams{};
  if (!p) return DSE_OK;
  out.max_new_tokens = p->max_new_tokens;
  out.sampler.temperature = p->temperature;
  out.sampler.top_k = p->top_k;
  out.sampler.top_p = p->top_p;
  out.sampler.min_p = p->min_p;
  out.sampler.repetition_penalty = p->repetition_penalty;
  out.sampler.repetition_last_n = p->repetition_last_n;
  out.sampler.seed = p->seed;
  out.ignore_eos = p->ignore_eos != 0;
  if (p->out_tokens && p->out_tokens_capacity) out.out_tokens = {p->out_tokens, p->out_tokens_capacity};
  if (p->n_stop_strings > rt::TextStreamer::kMaxStopStrings) {
    return fail(StatusCode::invalid_argument, "more than 16 stop strings; pass at most 16");
  }
  if (p->n_stop_strings > 0 && p->stop_strings == nullptr) {
    return fail(StatusCode::invalid_argument, "n_stop_strings is non-zero but stop_strings is NULL");
  }
  for (size_t i = 0; i < p->n_stop_strings; ++i) {
    if (p->stop_strings[i] == nullptr) return fail(StatusCode::invalid_argument, "a stop string is NULL");
    stops[i] = p->stop_strings[i];
  }
  out.stop_strings = {stops, p->n_stop_strings};
  return DSE_OK;
}

}  // namespace

extern "C" {

const char* dse_status_name(dse_status status) { return dse::status_code_name(StatusCode(status)); }

const char* dse_last_error_message(void) { return g_last_error.c_str(); }

dse_status dse_model_open(const char* path, const dse_model_options* options, dse_model** out_model) {
  return guarded([&]() -> dse_status {
    if (out_model) *out_model = nullptr;
    if (!path || !out_model) return fail(StatusCode::invalid_argument, "dse_model_open: path and out_model must not be NULL");
    rt::OpenOptions o;
    o.verify_segment_checksums = !(options && (options->flags & DSE_MODEL_SKIP_SEGMENT_CHECKSUMS));
    auto loaded = rt::LoadedModel::open(path, o);
    if (!loaded.ok()) return fail(loaded.status());
    auto m = std::make_unique<dse_model>();
    m->model = std::move(loaded).value();
    const rt::LoadedModel& lm = *m->model;
    const auto& s = lm.strings();
    const dse::fb::ModelConfig* c = lm.artifact().config();
    dse_model_info& info = m->info;
    info.family = s.family.c_str();
    info.architecture = s.architecture.c_str();
    info.target = s.target.c_str();
    info.producer = s.producer.c_str();
    info.weight_precision = s.weight_precision.c_str();
    info.vocab_size = lm.vocab_size();
    info.num_layers = c->num_layers();
    info.hidden_size = c->hidden_size();
    info.max_seq_len = lm.max_seq_len();
    info.prefill_chunk = lm.prefill().max_tokens;
    info.max_batch = lm.max_batch();
    info.bos_id = lm.tokenizer().data().bos_id;
    info.eos_id = lm.tokenizer().data().eos_id;
    info.has_chat_format = rt::has_chat_format(lm.tokenizer().data().chat) ? 1 : 0;
    *out_model = m.release();
    return DSE_OK;
  });
}

void dse_model_close(dse_model* model) { delete model; }

dse_status dse_model_get_info(const dse_model* model, dse_model_info* out_info) {
  if (!model || !out_info) return fail(StatusCode::invalid_argument, "dse_model_get_info: NULL argument");
  *out_info = model->info;
  return DSE_OK;
}

dse_status dse_model_get_memory_plan(const dse_model* model, const dse_session_options* /*options*/,
                                     dse_memory_plan* out_plan) {
  if (!model || !out_plan) return fail(StatusCode::invalid_argument, "dse_model_get_memory_plan: NULL argument");
  return guarded([&]() -> dse_status {
    auto plan = rt::plan_session_memory(*model->model);
    if (!plan.ok()) return fail(plan.status());
    fill_plan(*plan, out_plan);
    return DSE_OK;
  });
}

dse_status dse_session_create(dse_model* model, const dse_session_options* options, dse_session** out_session) {
  if (out_session) *out_session = nullptr;
  if (!model || !out_session) return fail(StatusCode::invalid_argument, "dse_session_create: model and out_session must not be NULL");
  return guarded([&]() -> dse_status {
    auto s = rt::Session::create(*model->model, session_options(options));
    if (!s.ok()) return fail(s.status());
    auto h = std::make_unique<dse_session>();
    h->session = std::move(s).value();
    *out_session = h.release();
    return DSE_OK;
  });
}

void dse_session_destroy(dse_session* session) { delete session; }

void dse_session_reset(dse_session* session) {
  if (session) session->session->reset();
}

uint64_t dse_session_context_tokens(const dse_session* session) {
  return session ? session->session->context_tokens() : 0;
}

dse_status dse_session_get_memory_plan(const dse_session* session, dse_memory_plan* out_plan) {
  if (!session || !out_plan) return fail(StatusCode::invalid_argument, "dse_session_get_memory_plan: NULL argument");
  fill_plan(session->session->memory_plan(), out_plan);
  return DSE_OK;
}

dse_status dse_session_generate(dse_session* session, const char* prompt, size_t prompt_length,
                                const dse_generate_params* params, dse_text_callback callback, void* user_data,
                                dse_generate_result* out_result) {
  if (!session || (!prompt && prompt_length)) {
    return fail(StatusCode::invalid_argument, "dse_session_generate: session is NULL, or prompt is NULL with a length");
  }
  return guarded([&]() -> dse_status {
    std::string_view stops[rt::TextStreamer::kMaxStopStrings];
    rt::GenerateParams p;
    if (dse_status st = convert_params(params, stops, p); st != DSE_OK) return st;
    rt::GenerateResult r;
    Status st = session->session->generate_text({prompt ? prompt : "", prompt_length}, p, callback, user_data, r);
    fill_result(r, out_result);
    return st.ok() ? DSE_OK : fail(st);
  });
}

dse_status dse_session_generate_tokens(dse_session* session, const int32_t* tokens, size_t n_tokens,
                                       const dse_generate_params* params, dse_text_callback callback, void* user_data,
                                       dse_generate_result* out_result) {
  if (!session || (!tokens && n_tokens)) {
    return fail(StatusCode::invalid_argument, "dse_session_generate_tokens: session is NULL, or tokens is NULL with a count");
  }
  return guarded([&]() -> dse_status {
    std::string_view stops[rt::TextStreamer::kMaxStopStrings];
    rt::GenerateParams p;
    if (dse_status st = convert_params(params, stops, p); st != DSE_OK) return st;
    rt::GenerateResult r;
    Status st = session->session->generate_tokens({tokens, n_tokens}, p, callback, user_data, r);
    fill_result(r, out_result);
    return st.ok() ? DSE_OK : fail(st);
  });
}

dse_status dse_session_generate_batch(dse_session* session, const int32_t* const* prompts, const size_t* prompt_lengths,
                                      size_t n_prompts, const dse_generate_params* params, dse_batch_callback callback,
                                      void* user_data, dse_generate_result* out_results) {
  if (!session || (n_prompts && (!prompts || !prompt_lengths))) {
    return fail(StatusCode::invalid_argument,
                "dse_session_generate_batch: session is NULL, or prompts / prompt_lengths is NULL with a count");
  }
  if (n_prompts > size_t(dse::kMaxBatch)) {
    return fail(Status(StatusCode::invalid_argument, "dse_session_generate_batch: " + std::to_string(n_prompts) +
                                                         " prompts; at most " + std::to_string(dse::kMaxBatch) +
                                                         " run together"));
  }
  return guarded([&]() -> dse_status {
    std::string_view stops[rt::TextStreamer::kMaxStopStrings];
    rt::GenerateParams p;
    if (dse_status st = convert_params(params, stops, p); st != DSE_OK) return st;
    std::span<const int32_t> spans[dse::kMaxBatch];
    for (size_t i = 0; i < n_prompts; ++i) {
      if (!prompts[i] && prompt_lengths[i]) {
        return fail(Status(StatusCode::invalid_argument,
                           "dse_session_generate_batch: prompt " + std::to_string(i) + " is NULL with a length"));
      }
      spans[i] = {prompts[i], prompt_lengths[i]};
    }
    rt::GenerateResult results[dse::kMaxBatch];
    Status st = session->session->generate_batch({spans, n_prompts}, p, callback, user_data, {results, n_prompts});
    for (size_t i = 0; out_results && i < n_prompts; ++i) fill_result(results[i], &out_results[i]);
    return st.ok() ? DSE_OK : fail(st);
  });
}

dse_status dse_session_forward(dse_session* session, const int32_t* tokens, size_t n_tokens, const float** out_logits) {
  if (!session || (!tokens && n_tokens) || !out_logits) {
    return fail(StatusCode::invalid_argument, "dse_session_forward: session and out_logits must not be NULL");
  }
  return guarded([&]() -> dse_status {
    Status st = session->session->forward({tokens, n_tokens}, out_logits);
    return st.ok() ? DSE_OK : fail(st);
  });
}

dse_status dse_model_tokenize(const dse_model* model, const char* text, size_t text_length, int32_t add_special,
                              int32_t* out_tokens, size_t capacity, size_t* out_count) {
  if (!model || (!text && text_length) || !out_count || (!out_tokens && capacity)) {
    return fail(StatusCode::invalid_argument, "dse_model_tokenize: NULL argument");
  }
  return guarded([&]() -> dse_status {
    std::vector<int32_t> ids;
    Status st = model->model->encode({text ? text : "", text_length}, add_special != 0, ids);
    if (!st.ok()) return fail(st);
    *out_count = ids.size();
    if (ids.size() > capacity) {
      return fail(Status(StatusCode::out_of_range, "the text has " + std::to_string(ids.size()) +
                                                       " tokens but the output holds " + std::to_string(capacity) +
                                                       "; pass a larger buffer"));
    }
    if (!ids.empty()) std::memcpy(out_tokens, ids.data(), ids.size() * sizeof(int32_t));
    return DSE_OK;
  });
}

dse_status dse_model_token_text(const dse_model* model, int32_t token, const char** out_text, size_t* out_length) {
  if (!model || !out_text || !out_length) return fail(StatusCode::invalid_argument, "dse_model_token_text: NULL argument");
  const auto& tok = model->model->tokenizer();
  if (!tok.is_valid_id(token)) {
    return guarded([&]() -> dse_status {
      return fail(Status(StatusCode::out_of_range, "token id " + std::to_string(token) + " is not in the vocabulary of " +
                                                       std::to_string(tok.id_count()) + " ids"));
    });
  }
  const std::string_view bytes = tok.token_bytes(token);
  *out_text = bytes.data();
  *out_length = bytes.size();
  return DSE_OK;
}

dse_status dse_model_render_chat(const dse_model* model, const dse_chat_message* messages, size_t n_messages,
                                 uint32_t flags, char* out, size_t capacity, size_t* out_length) {
  if (!model || !out_length || (!messages && n_messages) || (!out && capacity)) {
    return fail(StatusCode::invalid_argument, "dse_model_render_chat: NULL argument");
  }
  return guarded([&]() -> dse_status {
    const auto& chat = model->model->tokenizer().data().chat;
    if (!rt::has_chat_format(chat)) {
      return fail(StatusCode::unsupported, "the artifact has no chat format (a base model?); pass plain text prompts instead");
    }
    std::vector<rt::ChatMessage> msgs;
    for (size_t i = 0; i < n_messages; ++i) {
      if (messages[i].role < DSE_ROLE_SYSTEM || messages[i].role > DSE_ROLE_ASSISTANT) {
        return fail(StatusCode::invalid_argument, "dse_model_render_chat: a message has an unknown role");
      }
      msgs.push_back({rt::ChatRole(int(messages[i].role)), messages[i].content ? messages[i].content : ""});
    }
    rt::ChatRenderOptions o;
    o.begin = flags & DSE_CHAT_BEGIN;
    o.generation_prompt = flags & DSE_CHAT_GENERATION_PROMPT;
    o.close_assistant = flags & DSE_CHAT_CLOSE_ASSISTANT;
    std::string text;
    rt::render_chat(chat, msgs, o, text);
    *out_length = text.size();
    if (text.size() + 1 > capacity) {
      return fail(Status(StatusCode::out_of_range, "the rendered chat has " + std::to_string(text.size()) +
                                                       " bytes but the output holds " + std::to_string(capacity) +
                                                       " (one more is needed for the NUL)"));
    }
    std::memcpy(out, text.c_str(), text.size() + 1);
    return DSE_OK;
  });
}

}  // extern "C"
