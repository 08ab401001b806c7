/* The libdse C API: open a compiled DeepSeek Edge artifact (.dse), create a session and generate
 * text from it.
 *
 * Conventions
 * - Every function that can fail returns a dse_status: DSE_OK (0) or one of the codes below (the
 *   values of dse::StatusCode in dse/status.h). The message of the most recent failure on the
 *   calling thread is returned by dse_last_error_message().
 * - Parameter structs are valid when zero-initialised (`dse_generate_params p = {0};` is greedy
 *   decoding until EOS); a NULL pointer to one means "all zero".
 * - Handles are opaque. Strings passed in are borrowed for the duration of the call unless stated
 *   otherwise; strings returned are owned by the handle they came from.
 * - Memory: dse_model_open maps the file; dse_session_create takes every region the model needs
 *   (weights that cannot be used in place from the map, KV cache, activation arena, sampler and
 *   text scratch) in one allocation each. Generating allocates nothing.
 *
 * Thread safety
 * - A dse_model is read-only after dse_model_open: any number of threads may use it and create
 *   sessions from it concurrently. It must outlive every session created from it.
 * - A dse_session is used by one thread at a time (one session per thread). Different sessions
 *   of the same model may generate concurrently.
 * - dse_last_error_message() is per thread.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: the values of dse::StatusCode. */
typedef int32_t dse_status;
#define DSE_OK 0
#define DSE_INVALID_ARGUMENT 1 /* a caller error: NULL handle, bad option */
#define DSE_OUT_OF_RANGE 2     /* e.g. a prompt longer than the planned context */
#define DSE_CANCELLED 3        /* the text callback returned non-zero */
#define DSE_NOT_FOUND 10       /* the file does not exist */
#define DSE_IO_ERROR 11        /* reading or mapping the file failed */
#define DSE_CORRUPT_DATA 12    /* bad magic, checksum, truncation, failed verification */
#define DSE_UNSUPPORTED 13     /* a newer format, a kernel this build lacks */
#define DSE_TARGET_MISMATCH 14 /* compiled for another device */
#define DSE_OUT_OF_MEMORY 20   /* session memory larger than the limit or than what is free */
#define DSE_INTERNAL 30        /* a bug: please report it with the message */

/* A short name for a status code ("out of memory"); never NULL, static storage. */
const char* dse_status_name(dse_status status);

/* The message of the most recent failing call on this thread ("" if none). Valid until the next
 * failing call on this thread. */
const char* dse_last_error_message(void);

typedef struct dse_model dse_model;
typedef struct dse_session dse_session;

/* ---------------------------------------------------------------------------------------- */
/* Model                                                                                     */

#define DSE_MODEL_SKIP_SEGMENT_CHECKSUMS 1u /* trust the weight bytes (faster open of big files) */

typedef struct dse_model_options {
  uint32_t flags; /* DSE_MODEL_* bits; 0: verify everything */
} dse_model_options;

/* Maps and verifies the artifact at `path` (header, metadata schema, checksums, target, the
 * instruction lists against this build's kernels, the tokenizer tables). On success *out_model
 * owns the mapping until dse_model_close. `options` may be NULL.
 * Errors: NOT_FOUND, IO_ERROR, CORRUPT_DATA, UNSUPPORTED, TARGET_MISMATCH, each with a message. */
dse_status dse_model_open(const char* path, const dse_model_options* options, dse_model** out_model);

/* Releases the model. Every session created from it must be destroyed first. NULL is a no-op. */
void dse_model_close(dse_model* model);

/* What the artifact says about the model. Strings are owned by the model. */
typedef struct dse_model_info {
  const char* family;           /* "llama", "qwen2", "deepseek_v2", "deepseek_v3" */
  const char* architecture;     /* Hugging Face class name */
  const char* target;           /* "cpu", "sm_90", ... */
  const char* producer;         /* "dsc 0.1.0 (MLIR 22.1)" */
  const char* weight_precision; /* "fp32", "fp16", "int8", "int4", ... */
  uint64_t vocab_size;
  uint64_t num_layers;
  uint64_t hidden_size;
  uint64_t max_seq_len;   /* planned context in tokens: prompt plus generated text */
  uint64_t prefill_chunk; /* tokens per prefill call; longer prompts are split */
  int64_t bos_id;         /* -1: none */
  int64_t eos_id;         /* -1: none */
  int32_t has_chat_format;
  uint64_t max_batch;     /* sequences dse_session_generate_batch runs together (dsc --max-batch) */
} dse_model_info;

/* Fills *out_info. Errors: INVALID_ARGUMENT for NULL arguments. */
dse_status dse_model_get_info(const dse_model* model, dse_model_info* out_info);

/* ---------------------------------------------------------------------------------------- */
/* Sessions                                                                                  */

typedef struct dse_session_options {
  uint64_t memory_limit_bytes; /* 0: no limit; otherwise creation fails if it needs more */
  uint32_t n_threads;          /* CPU worker threads, caller included; 0: all hardware threads */
} dse_session_options;

/* What a session takes, in bytes. */
typedef struct dse_memory_plan {
  uint64_t weights_region_bytes;   /* the weights region as planned by the compiler */
  uint64_t weights_mapped_bytes;   /* weights used in place from the file mapping */
  uint64_t weights_resident_bytes; /* weights decoded into memory the session allocates */
  uint64_t kv_cache_bytes;
  uint64_t arena_bytes;            /* activations */
  uint64_t host_scratch_bytes;     /* sampler, token history, text buffers */
  uint64_t total_allocated_bytes;  /* what dse_session_create allocates: resident weights + KV
                                      cache + arena + scratch (+ GPU workspace); compared with
                                      memory_limit_bytes */
  /* GPU artifacts (on_gpu = 1): resident weights, KV cache, arena and workspace are device
   * memory (one cudaMalloc each); device_bytes is their sum. On an integrated GPU (Jetson,
   * gpu_integrated = 1) uncompressed weights are used in place from the file mapping:
   * weights_mapped_bytes is the memory that saves. dse_model_get_memory_plan assumes a discrete
   * GPU; dse_session_get_memory_plan reports what the session took. */
  uint64_t gpu_workspace_bytes;    /* kernel scratch and the step / error / token block */
  uint64_t device_bytes;
  uint32_t on_gpu;
  uint32_t gpu_integrated;
} dse_memory_plan;

/* What dse_session_create would take with these options (may be NULL). */
dse_status dse_model_get_memory_plan(const dse_model* model, const dse_session_options* options,
                                     dse_memory_plan* out_plan);

/* Creates a session: allocates every region once, decodes compressed weights, resolves the
 * instruction lists. The model must outlive the session. `options` may be NULL.
 * Errors: OUT_OF_MEMORY (with the needed and available numbers) when memory_limit_bytes is
 * smaller than the plan or an allocation fails; CORRUPT_DATA when a compressed segment does not
 * decode. */
dse_status dse_session_create(dse_model* model, const dse_session_options* options,
                              dse_session** out_session);

/* Destroys the session and frees its memory. NULL is a no-op. */
void dse_session_destroy(dse_session* session);

/* Forgets the conversation: the next generate starts at position 0. Never fails. */
void dse_session_reset(dse_session* session);

/* Tokens in the session's context (processed or pending). */
uint64_t dse_session_context_tokens(const dse_session* session);

/* Returns the session's memory plan (what it took). */
dse_status dse_session_get_memory_plan(const dse_session* session, dse_memory_plan* out_plan);

/* ---------------------------------------------------------------------------------------- */
/* Generation                                                                                */

/* Receives generated text as it becomes final: never half a UTF-8 character, never text that a
 * stop string may still swallow, always valid UTF-8 (bytes that do not form a character, e.g. a
 * lone continuation byte sampled at a high temperature, arrive as U+FFFD, one per maximal invalid
 * sequence, exactly as dse_model's tokenizer decodes them). `text` is not NUL-terminated and is
 * valid only during the call.
 * Return 0 to continue, non-zero to stop (generate then returns DSE_CANCELLED). */
typedef int (*dse_text_callback)(const char* text, size_t length, void* user_data);

typedef enum dse_stop_reason {
  DSE_STOP_NONE = 0,
  DSE_STOP_EOS = 1,          /* the model produced its end-of-sequence token (or the special
                                token that closes an assistant turn in its chat format) */
  DSE_STOP_MAX_TOKENS = 2,   /* max_new_tokens reached */
  DSE_STOP_STRING = 3,       /* a stop string appeared (it is not passed to the callback) */
  DSE_STOP_CANCELLED = 4,    /* the callback returned non-zero */
  DSE_STOP_CONTEXT_FULL = 5  /* the planned context (max_seq_len) is full */
} dse_stop_reason;

/* On a GPU session, greedy decoding without a repetition penalty samples on the device (only the
 * token id is copied back); any other setting copies the vocab_size logits to the host each token
 * and samples there, with the same draws as the CPU backend for the same seed. */
typedef struct dse_generate_params {
  uint32_t max_new_tokens;   /* 0: until EOS, a stop string or a full context */
  float temperature;         /* <= 0: greedy */
  uint32_t top_k;            /* 0: off */
  float top_p;               /* 0 or >= 1: off */
  float min_p;               /* 0: off */
  float repetition_penalty;  /* 0 or 1: off */
  uint32_t repetition_last_n;/* tokens the penalty looks back over; 0: the whole context */
  uint64_t seed;             /* same seed, same prompt, same model: same text */
  const char* const* stop_strings; /* borrowed for the call; up to 16, each up to 512 bytes */
  size_t n_stop_strings;
  int32_t ignore_eos;        /* non-zero: keep going after EOS (benchmarks) */
  int32_t* out_tokens;       /* optional: receives the generated token ids (borrowed) */
  size_t out_tokens_capacity;
} dse_generate_params;

typedef struct dse_generate_result {
  uint64_t prompt_tokens;     /* tokens prefilled by this call (new input + a pending token) */
  uint64_t generated_tokens;  /* tokens sampled by this call */
  dse_stop_reason stop_reason;
  double prefill_seconds;     /* time to the first sampled token */
  double decode_seconds;      /* time for the rest */
} dse_generate_result;

/* Appends `prompt` (UTF-8, `prompt_length` bytes; special-token texts are recognised) to the
 * session's context and generates a continuation, passing text to `callback` (may be NULL).
 * The conversation continues across calls: earlier tokens stay in the KV cache and only new
 * tokens are prefilled. At position 0 the tokenizer's BOS is added if the model asks for it and
 * the text does not already start with it (a rendered chat begins with the BOS text).
 * `params` and `out_result` may be NULL.
 *
 * After a stop by EOS the EOS token is not kept in the context (a chat format's assistant
 * suffix supplies it); after any other stop the last sampled token is kept and is processed at
 * the start of the next call, so that text generated in several calls equals one long call.
 *
 * Errors: OUT_OF_RANGE when the context plus the prompt exceed max_seq_len (the session is
 * unchanged); INVALID_ARGUMENT for bad stop strings; CANCELLED when the callback asked to stop
 * (the session stays usable). Tokenizing the prompt may allocate; the token loop does not. */
dse_status dse_session_generate(dse_session* session, const char* prompt, size_t prompt_length,
                                const dse_generate_params* params, dse_text_callback callback,
                                void* user_data, dse_generate_result* out_result);

/* As dse_session_generate, with the prompt already tokenized (no BOS is added). Allocates
 * nothing. */
dse_status dse_session_generate_tokens(dse_session* session, const int32_t* tokens, size_t n_tokens,
                                       const dse_generate_params* params, dse_text_callback callback,
                                       void* user_data, dse_generate_result* out_result);

/* Receives the text of sequence `sequence` (the index of its prompt) of a batched generation, under
 * dse_text_callback's rules. Return 0 to continue, non-zero to stop that sequence only (its
 * result says DSE_STOP_CANCELLED; the others go on). */
typedef int (*dse_batch_callback)(size_t sequence, const char* text, size_t length, void* user_data);

/* Generates continuations of `n_prompts` tokenized prompts together, on an artifact compiled with
 * dsc --max-batch N (n_prompts <= N, dse_model_info.max_batch): prompt i (prompt_lengths[i] ids, no
 * BOS added, at least 1 and less than max_seq_len) is prefilled into KV cache slot i, then every
 * decode step advances all sequences at once, reading the weights once for all of them. Each
 * sequence stops on its own (EOS, stop strings, max_new_tokens, a full context, its callback) and
 * gets its own result in out_results[i] (n_prompts of them; may be NULL). `params` apply to every
 * sequence; sequence i samples with seed params->seed + i, so a batch's text does not depend on
 * which other prompts share it; params->out_tokens, when set, is split evenly: sequence i's ids go
 * to out_tokens + i * (out_tokens_capacity / n_prompts).
 * The batch starts from empty contexts: the session's conversation (dse_session_generate) is reset
 * before and is empty after. Errors: INVALID_ARGUMENT for more prompts than max_batch, an empty
 * prompt or an id outside the vocabulary; OUT_OF_RANGE for a prompt of max_seq_len tokens or more.
 * Allocates nothing. */
dse_status dse_session_generate_batch(dse_session* session, const int32_t* const* prompts,
                                      const size_t* prompt_lengths, size_t n_prompts,
                                      const dse_generate_params* params, dse_batch_callback callback,
                                      void* user_data, dse_generate_result* out_results);

/* Appends `tokens` to the context and runs the model on what the KV cache lacks, without
 * sampling: *out_logits receives the vocab_size logits after the last context token. They are
 * owned by the session and valid until its next call (on a GPU session: a pinned host copy of the
 * device logits). For scoring text (perplexity) and for callers with their own sampler. With n_tokens 0 and nothing pending, the last token is run
 * again.
 * Errors: as dse_session_generate_tokens (OUT_OF_RANGE past max_seq_len, INVALID_ARGUMENT for
 * an id outside the vocabulary or an empty context). Allocates nothing. */
dse_status dse_session_forward(dse_session* session, const int32_t* tokens, size_t n_tokens,
                               const float** out_logits);

/* ---------------------------------------------------------------------------------------- */
/* Tokenizer and chat                                                                        */

/* Tokenizes `text`. `add_special` non-zero adds BOS/EOS as the model's tokenizer asks. Writes the
 * ids to `out_tokens` (up to `capacity`; may be NULL when capacity is 0) and their count to
 * *out_count. Errors: OUT_OF_RANGE when they do not fit, with *out_count set (so a first call
 * with capacity 0 measures); INVALID_ARGUMENT for invalid UTF-8. */
dse_status dse_model_tokenize(const dse_model* model, const char* text, size_t text_length,
                              int32_t add_special, int32_t* out_tokens, size_t capacity,
                              size_t* out_count);

/* Text of one token id (byte-level decoded; may be part of a UTF-8 character). Owned by the
 * model. Errors: OUT_OF_RANGE for an id outside the vocabulary. */
dse_status dse_model_token_text(const dse_model* model, int32_t token, const char** out_text,
                                size_t* out_length);

typedef enum dse_chat_role { DSE_ROLE_SYSTEM = 0, DSE_ROLE_USER = 1, DSE_ROLE_ASSISTANT = 2 } dse_chat_role;

typedef struct dse_chat_message {
  dse_chat_role role;
  const char* content; /* UTF-8, NUL-terminated; borrowed */
} dse_chat_message;

#define DSE_CHAT_BEGIN 1u             /* start with the format's begin text (a new conversation) */
#define DSE_CHAT_GENERATION_PROMPT 2u /* end with the assistant prefix */
#define DSE_CHAT_CLOSE_ASSISTANT 4u   /* start with the assistant suffix: the previous reply ended */

/* Renders messages with the artifact's chat format into `out` (`capacity` bytes, NUL included;
 * may be NULL when capacity is 0); *out_length receives the length without the NUL. For a
 * conversation continued across generate calls, render only the new messages with
 * DSE_CHAT_CLOSE_ASSISTANT | DSE_CHAT_GENERATION_PROMPT.
 * Errors: UNSUPPORTED when the artifact has no chat format; OUT_OF_RANGE when the text and its
 * NUL do not fit, with *out_length set (so a first call with capacity 0 measures). */
dse_status dse_model_render_chat(const dse_model* model, const dse_chat_message* messages,
                                 size_t n_messages, uint32_t flags, char* out, size_t capacity,
                                 size_t* out_length);

#ifdef __cplusplus
} /* extern "C" */
#endif

