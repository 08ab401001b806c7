// dse-run: generate text from a compiled artifact, or chat with it using its chat format.
//
//   dse-run MODEL.dse -p "Once upon a time" [-n 128] [--temp 0.8] [--top-k 40] [--top-p 0.95]
//           [--min-p 0.05] [--repeat-penalty 1.1] [--seed 1] [--stop STR]... [--threads N]
//           [--memory-limit BYTES] [--ignore-eos]
//   dse-run MODEL.dse -i [--system "You are ..."] [same sampling options]
//   dse-run MODEL.dse --info       what the model is and what a session would take
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <span>
#include <string>
#include <vector>

#include "dse/dse.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: dse-run MODEL.dse (-p PROMPT | -i | --info) [-n N] [--temp T] [--top-k K] [--top-p P]\n"
               "               [--min-p P] [--repeat-penalty R] [--seed S] [--stop STR]... [--threads N]\n"
               "               [--memory-limit BYTES] [--system TEXT] [--ignore-eos]\n"
               "  -p PROMPT   generate a continuation of PROMPT and stream it to stdout; several -p on an\n"
               "              artifact compiled with dsc --max-batch N (N >= their count) generate together,\n"
               "              each printed whole when all have stopped\n"
               "  -i          chat on stdin/stdout with the model's chat format (empty line or EOF ends)\n"
               "  -n N        at most N new tokens per reply (default: until EOS or a full context)\n"
               "  --info      print the model and its memory plan, then exit\n");
}

struct Args {
  std::string model, system;
  std::vector<std::string> prompts;
  bool interactive = false;
  bool have_prompt = false;
  bool info = false;
  dse_generate_params params = {};
  dse_session_options session = {};
  std::vector<std::string> stops;
};

bool parse(int argc, char** argv, Args& a) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "dse-run: %s needs a value\n", name);
        return nullptr;
      }
      return argv[++i];
    };
    const char* v = nullptr;
    if (arg == "-h" || arg == "--help") return false;
    else if (arg == "-i" || arg == "--interactive") a.interactive = true;
    else if (arg == "--ignore-eos") a.params.ignore_eos = 1;
    else if (arg == "--info") a.info = true;
    else if (arg == "-p" || arg == "--prompt") { if (!(v = value("-p"))) return false; a.prompts.push_back(v); a.have_prompt = true; }
    else if (arg == "--system") { if (!(v = value("--system"))) return false; a.system = v; }
    else if (arg == "-n") { if (!(v = value("-n"))) return false; a.params.max_new_tokens = uint32_t(std::strtoul(v, nullptr, 10)); }
    else if (arg == "--temp") { if (!(v = value("--temp"))) return false; a.params.temperature = std::strtof(v, nullptr); }
    else if (arg == "--top-k") { if (!(v = value("--top-k"))) return false; a.params.top_k = uint32_t(std::strtoul(v, nullptr, 10)); }
    else if (arg == "--top-p") { if (!(v = value("--top-p"))) return false; a.params.top_p = std::strtof(v, nullptr); }
    else if (arg == "--min-p") { if (!(v = value("--min-p"))) return false; a.params.min_p = std::strtof(v, nullptr); }
    else if (arg == "--repeat-penalty") { if (!(v = value("--repeat-penalty"))) return false; a.params.repetition_penalty = std::strtof(v, nullptr); }
    else if (arg == "--seed") { if (!(v = value("--seed"))) return false; a.params.seed = std::strtoull(v, nullptr, 10); }
    else if (arg == "--stop") { if (!(v = value("--stop"))) return false; a.stops.push_back(v); }
    else if (arg == "--threads") { if (!(v = value("--threads"))) return false; a.session.n_threads = uint32_t(std::strtoul(v, nullptr, 10)); }
    else if (arg == "--memory-limit") { if (!(v = value("--memory-limit"))) return false; a.session.memory_limit_bytes = std::strtoull(v, nullptr, 10); }
    else if (!arg.empty() && arg[0] == '-') { std::fprintf(stderr, "dse-run: unknown option '%s'\n", arg.c_str()); return false; }
    else if (a.model.empty()) a.model = arg;
    else { std::fprintf(stderr, "dse-run: unexpected argument '%s'\n", arg.c_str()); return false; }
  }
  if (a.model.empty() || (!a.info && a.interactive == a.have_prompt)) return false;
  return true;
}

bool print_text(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return true;
}

const char* stop_name(dse_stop_reason r) {
  switch (r) {
    case DSE_STOP_EOS: return "end of sequence";
    case DSE_STOP_MAX_TOKENS: return "token limit";
    case DSE_STOP_STRING: return "stop string";
    case DSE_STOP_CANCELLED: return "cancelled";
    case DSE_STOP_CONTEXT_FULL: return "context full";
    default: return "none";
  }
}

void report(const dse_generate_result& r) {
  const double prefill = r.prefill_seconds > 0 ? double(r.prompt_tokens) / r.prefill_seconds : 0.0;
  const double decode = r.decode_seconds > 0 && r.generated_tokens > 1 ? double(r.generated_tokens - 1) / r.decode_seconds : 0.0;
  std::fprintf(stderr, "\n[%llu prompt tokens, %.1f tok/s; %llu generated, %.1f tok/s; stop: %s]\n",
               (unsigned long long)r.prompt_tokens, prefill, (unsigned long long)r.generated_tokens, decode,
               stop_name(r.stop_reason));
}

// Several prompts generated together (dse_session_generate_batch): texts collected per sequence
// and printed one after the other once every sequence has stopped.
int run_batch(const dse::Model& model, dse::Session& session, const Args& a) {
  const dse_model_info info = model.info();
  if (a.prompts.size() > info.max_batch) {
    std::fprintf(stderr, "dse-run: %zu prompts, but %s generates at most %llu together; recompile it with dsc "
                 "--max-batch %zu\n", a.prompts.size(), a.model.c_str(), (unsigned long long)info.max_batch,
                 a.prompts.size());
    return 1;
  }
  std::vector<std::vector<int32_t>> ids;
  for (const std::string& p : a.prompts) {
    auto t = model.tokenize(p, /*add_special=*/true);
    if (!t.ok()) {
      std::fprintf(stderr, "dse-run: %s\n", t.status().message().c_str());
      return 1;
    }
    ids.push_back(std::move(t).value());
  }
  std::vector<std::span<const int32_t>> spans(ids.begin(), ids.end());
  std::vector<std::string> texts(ids.size());
  std::vector<dse_generate_result> results(ids.size());
  dse::Status st = session.generate_batch(
      spans, a.params,
      [&](size_t sequence, std::string_view text) {
        texts[sequence] += text;
        return true;
      },
      results);
  if (!st.ok()) {
    std::fprintf(stderr, "dse-run: %s\n", st.message().c_str());
    return 1;
  }
  for (size_t i = 0; i < texts.size(); ++i) {
    std::printf("%s[%zu] %s%s\n", i ? "\n" : "", i, a.prompts[i].c_str(), texts[i].c_str());
    std::fflush(stdout);
    report(results[i]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  if (!parse(argc, argv, a)) {
    usage();
    return 2;
  }
  std::vector<const char*> stop_ptrs;
  for (const std::string& s : a.stops) stop_ptrs.push_back(s.c_str());
  a.params.stop_strings = stop_ptrs.data();
  a.params.n_stop_strings = stop_ptrs.size();

  auto model = dse::Model::open(a.model);
  if (!model.ok()) {
    std::fprintf(stderr, "dse-run: %s\n", model.status().message().c_str());
    return 1;
  }
  if (a.info) {
    const dse_model_info i = model->info();
    const dse_memory_plan p = model->memory_plan(&a.session);
    auto mib = [](uint64_t b) { return double(b) / (1024.0 * 1024.0); };
    std::printf("model         %s (%s), %s weights, target %s\n", i.architecture, i.family, i.weight_precision, i.target);
    std::printf("producer      %s\n", i.producer);
    std::printf("vocabulary    %llu tokens; context %llu tokens; prefill chunk %llu; %llu layers\n",
                (unsigned long long)i.vocab_size, (unsigned long long)i.max_seq_len,
                (unsigned long long)i.prefill_chunk, (unsigned long long)i.num_layers);
    std::printf("chat format   %s\nbatch         up to %llu sequences generated together\n",
                i.has_chat_format ? "yes" : "no", (unsigned long long)i.max_batch);
    std::printf("weights       %.2f MiB planned: %.2f MiB used in place from the file, %.2f MiB decoded\n",
                mib(p.weights_region_bytes), mib(p.weights_mapped_bytes), mib(p.weights_resident_bytes));
    std::printf("KV cache      %.2f MiB\narena         %.2f MiB\nhost scratch  %.2f MiB\n", mib(p.kv_cache_bytes),
                mib(p.arena_bytes), mib(p.host_scratch_bytes));
    if (p.on_gpu) {
      // "decoded" above means copied to the device for a GPU artifact.
      std::printf("GPU           %.2f MiB of device memory (%llu bytes; workspace %llu bytes)%s\n",
                  mib(p.device_bytes), static_cast<unsigned long long>(p.device_bytes),
                  static_cast<unsigned long long>(p.gpu_workspace_bytes),
                  p.gpu_integrated ? ", integrated: weights in place" : "");
    }
    std::printf("session total %.2f MiB allocated (%llu bytes)\n", mib(p.total_allocated_bytes),
                (unsigned long long)p.total_allocated_bytes);
    return 0;
  }
  auto session = dse::Session::create(*model, &a.session);
  if (!session.ok()) {
    std::fprintf(stderr, "dse-run: %s\n", session.status().message().c_str());
    return 1;
  }

  if (a.prompts.size() > 1) return run_batch(*model, *session, a);
  if (!a.interactive) {
    dse_generate_result r{};
    dse::Status st = session->generate(a.prompts.front(), a.params, print_text, &r);
    if (!st.ok()) {
      std::fprintf(stderr, "\ndse-run: %s\n", st.message().c_str());
      return 1;
    }
    report(r);
    return 0;
  }

  if (!model->info().has_chat_format) {
    std::fprintf(stderr, "dse-run: this model has no chat format (a base model); use -p PROMPT instead\n");
    return 1;
  }
  bool first = true;
  std::string line;
  while (true) {
    std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line) || line.empty()) break;
    std::vector<dse_chat_message> turn;
    if (first && !a.system.empty()) turn.push_back({DSE_ROLE_SYSTEM, a.system.c_str()});
    turn.push_back({DSE_ROLE_USER, line.c_str()});
    const uint32_t flags = DSE_CHAT_GENERATION_PROMPT | (first ? DSE_CHAT_BEGIN : DSE_CHAT_CLOSE_ASSISTANT);
    auto text = model->render_chat(turn, flags);
    if (!text.ok()) {
      std::fprintf(stderr, "dse-run: %s\n", text.status().message().c_str());
      return 1;
    }
    dse_generate_result r{};
    dse::Status st = session->generate(*text, a.params, print_text, &r);
    if (!st.ok()) {
      std::fprintf(stderr, "\ndse-run: %s\n", st.message().c_str());
      if (st.code() == dse::StatusCode::out_of_range) {
        std::fprintf(stderr, "dse-run: the conversation is full; starting a new one\n");
        session->reset();
        first = true;
        continue;
      }
      return 1;
    }
    report(r);
    first = false;
  }
  return 0;
}
