// dsc inspect FILE.dse: the header, config, regions, entry points and segments of an artifact,
// after the reader's checks (magic, version, schema, checksums).
#include "llvm/Support/raw_ostream.h"

#include "DscCommands.h"
#include "dse/compiler/Emit/CompileReport.h"
#include "dse/formats/artifact_reader.h"

namespace cl = llvm::cl;

namespace dse::dsc {

cl::SubCommand inspect_command("inspect", "describe an artifact (.dse) and verify its checksums");

namespace {
cl::opt<std::string> inspect_file(cl::Positional, cl::desc("<FILE.dse>"), cl::sub(inspect_command));
cl::opt<bool> inspect_instructions("instructions", cl::desc("list every instruction"),
                                   cl::sub(inspect_command));
cl::opt<bool> inspect_slots("slots", cl::desc("list every slot"), cl::sub(inspect_command));
cl::opt<bool> inspect_report("report", cl::desc("print the compile report (JSON) stored in the artifact"),
                             cl::sub(inspect_command));
}  // namespace

int run_inspect() {
  if (inspect_file.empty()) {
    llvm::errs() << "dsc inspect: error: no FILE.dse given\n";
    return 1;
  }
  Result<formats::ArtifactReader> reader = formats::ArtifactReader::open(inspect_file.getValue());
  if (!reader.ok()) {
    llvm::errs() << "dsc inspect: error: " << reader.status().message() << "\n";
    return 1;
  }
  const fb::Artifact* a = reader->metadata();
  auto str = [](const flatbuffers::String* s) { return s ? s->str() : std::string(); };
  llvm::raw_ostream& os = llvm::outs();
  os << "artifact " << inspect_file << "\n  producer " << str(a->producer()) << "\n";
  if (a->target()) os << "  target " << str(a->target()->name()) << " (" << str(a->target()->backend()) << ")\n";
  if (const fb::ModelConfig* c = a->config())
    os << "  model " << str(c->architecture()) << " (" << str(c->family()) << "), layers "
       << c->num_layers() << ", hidden " << c->hidden_size() << ", vocab " << c->vocab_size()
       << "\n  precision " << str(c->weight_precision()) << ", kv " << str(c->kv_precision())
       << ", context " << c->max_seq_len() << ", prefill chunk " << c->prefill_chunk() << ", max batch "
       << c->max_batch() << "\n";
  if (const fb::Tokenizer* t = a->tokenizer()) {
    os << "  tokenizer " << str(t->model()) << ", " << (t->vocab() ? t->vocab()->size() : 0)
       << " tokens, " << (t->merges() ? t->merges()->size() : 0) << " merges\n";
    // The chat format as the runtime renders it, with newlines shown as \n.
    if (const fb::ChatFormat* chat = t->chat()) {
      auto shown = [&](const flatbuffers::String* s) {
        std::string out;
        for (char ch : str(s)) out += ch == '\n' ? std::string("\\n") : std::string(1, ch);
        return "\"" + out + "\"";
      };
      os << "  chat user " << shown(chat->user_prefix()) << " ... " << shown(chat->user_suffix())
         << ", assistant " << shown(chat->assistant_prefix()) << " ... "
         << shown(chat->assistant_suffix()) << "\n";
    } else {
      os << "  chat none\n";
    }
  } else {
    os << "  tokenizer none\n";
  }
  static const char* kRegion[] = {"weights", "kv_cache", "arena"};
  if (a->regions())
    for (const fb::Region* r : *a->regions())
      os << "  region " << kRegion[int(r->kind()) % 3] << " " << format_bytes(double(r->size()))
         << " (" << r->size() << " bytes, alignment " << r->alignment() << ")\n";
  const auto* slots = a->slots();
  os << "  slots " << (slots ? slots->size() : 0) << ", segments " << reader->segment_count() << "\n";
  if (inspect_slots && slots)
    for (uint32_t i = 0; i < slots->size(); ++i) {
      const fb::Slot* s = slots->Get(i);
      os << "    [" << i << "] " << str(s->name()) << " " << kRegion[int(s->region()) % 3] << " @"
         << s->offset() << " " << s->size() << " bytes " << fb::EnumNameDType(s->dtype()) << " [";
      if (s->shape())
        for (uint32_t d = 0; d < s->shape()->size(); ++d) os << (d ? ", " : "") << s->shape()->Get(d);
      os << "]" << (s->segment() >= 0 ? " segment " + std::to_string(s->segment()) : "") << "\n";
    }
  if (a->entry_points())
    for (const fb::EntryPoint* e : *a->entry_points()) {
      size_t n = e->instructions() ? e->instructions()->size() : 0;
      os << "  entry " << str(e->name()) << ": max_tokens " << e->max_tokens() << ", " << n
         << " instructions\n";
      if (!inspect_instructions || !e->instructions()) continue;
      for (const fb::Instruction* ins : *e->instructions()) {
        os << "    " << str(ins->kernel()) << " (";
        if (ins->operands())
          for (uint32_t k = 0; k < ins->operands()->size(); ++k)
            os << (k ? ", " : "") << str(slots->Get(ins->operands()->Get(k))->name());
        os << ")";
        if (ins->iparams() && ins->iparams()->size()) {
          os << " i[";
          for (uint32_t k = 0; k < ins->iparams()->size(); ++k) os << (k ? ", " : "") << ins->iparams()->Get(k);
          os << "]";
        }
        if (ins->fparams() && ins->fparams()->size()) {
          os << " f[";
          for (uint32_t k = 0; k < ins->fparams()->size(); ++k) os << (k ? ", " : "") << ins->fparams()->Get(k);
          os << "]";
        }
        os << "\n";
      }
    }
  if (inspect_report) os << str(a->report_json()) << "\n";
  if (Status s = reader->verify_all_segments(); !s.ok()) {
    llvm::errs() << "dsc inspect: error: " << s.message() << "\n";
    return 1;
  }
  os << "  checksums ok\n";
  return 0;
}

}  // namespace dse::dsc
