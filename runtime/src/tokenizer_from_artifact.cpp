// fb::Tokenizer -> tokenizer::TokenizerData, checking every table on the way.
#include "dse/runtime/tokenizer_from_artifact.h"

#include <string>

namespace dse::runtime {

namespace {

std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

Status bad(const std::string& what) {
  return Status(StatusCode::corrupt_data,
                "artifact tokenizer: " + what + "; recompile the model with dsc");
}

Status check_id(const char* name, int64_t id, uint64_t vocab_size) {
  if (id < -1 || (id >= 0 && uint64_t(id) >= vocab_size)) {
    return bad(std::string(name) + " is " + std::to_string(id) + ", expected -1 or an id below the vocabulary size " +
               std::to_string(vocab_size));
  }
  return Status::Ok();
}

}  // namespace

Result<tokenizer::TokenizerData> tokenizer_data_from_artifact(const fb::Tokenizer* t,
                                                              uint64_t model_vocab_size) {
  if (t == nullptr) return bad("the Tokenizer table is missing");
  tokenizer::TokenizerData d;
  d.model = str(t->model());
  if (d.model != "bpe") return bad("model is \"" + d.model + "\", expected \"bpe\"");
  if (t->vocab() == nullptr || t->vocab()->size() == 0) return bad("the vocabulary is empty");
  if (t->vocab()->size() > model_vocab_size) {
    return bad("the vocabulary has " + std::to_string(t->vocab()->size()) +
               " tokens, more than the model's vocab_size " + std::to_string(model_vocab_size));
  }

  d.vocab.reserve(t->vocab()->size());
  for (const flatbuffers::String* s : *t->vocab()) d.vocab.push_back(str(s));

  if (t->merges()) {
    d.merges.reserve(t->merges()->size());
    for (flatbuffers::uoffset_t i = 0; i < t->merges()->size(); ++i) {
      std::string m = str(t->merges()->Get(i));
      const size_t space = m.find(' ');
      if (space == std::string::npos || space == 0 || space + 1 == m.size() ||
          m.find(' ', space + 1) != std::string::npos) {
        return bad("merge " + std::to_string(i) + " is \"" + m + "\", expected \"left right\" with one space");
      }
      d.merges.push_back(std::move(m));
    }
  }

  if (t->added_tokens()) {
    for (flatbuffers::uoffset_t i = 0; i < t->added_tokens()->size(); ++i) {
      const fb::AddedToken* a = t->added_tokens()->Get(i);
      if (a->id() >= model_vocab_size) {
        return bad("added token " + std::to_string(i) + " has id " + std::to_string(a->id()) +
                   ", expected an id below the vocabulary size " + std::to_string(model_vocab_size));
      }
      if (a->content() == nullptr || a->content()->size() == 0) {
        return bad("added token " + std::to_string(i) + " (id " + std::to_string(a->id()) + ") has no content");
      }
      tokenizer::AddedToken out;
      out.id = a->id();
      out.content = str(a->content());
      out.special = a->special();
      out.lstrip = a->lstrip();
      out.rstrip = a->rstrip();
      out.normalized = a->normalized();
      out.single_word = a->single_word();
      d.added_tokens.push_back(std::move(out));
    }
  }

  d.normalizer = str(t->normalizer());
  if (!d.normalizer.empty() && d.normalizer != "nfc") {
    return bad("normalizer is \"" + d.normalizer + "\", expected \"\" or \"nfc\"");
  }
  if (t->pre_tokenizer()) {
    for (const fb::PreTokenizerStep* s : *t->pre_tokenizer()) {
      tokenizer::PreTokenizerStep out;
      out.kind = str(s->kind());
      out.pattern = str(s->pattern());
      out.behavior = str(s->behavior());
      out.invert = s->invert();
      out.add_prefix_space = s->add_prefix_space();
      out.use_regex = s->use_regex();
      out.individual_digits = s->individual_digits();
      if (out.kind != "split" && out.kind != "byte_level" && out.kind != "digits") {
        return bad("pre-tokenizer step kind is \"" + out.kind + "\", expected split, byte_level or digits");
      }
      if (out.kind == "split" && out.pattern.empty()) return bad("a split pre-tokenizer step has no pattern");
      d.pre_tokenizer.push_back(std::move(out));
    }
  }
  d.decoder = str(t->decoder());
  if (d.decoder.empty()) d.decoder = "byte_level";
  if (d.decoder != "byte_level") return bad("decoder is \"" + d.decoder + "\", expected \"byte_level\"");

  d.bos_id = t->bos_id();
  d.eos_id = t->eos_id();
  d.pad_id = t->pad_id();
  DSE_RETURN_IF_ERROR(check_id("bos_id", d.bos_id, model_vocab_size));
  DSE_RETURN_IF_ERROR(check_id("eos_id", d.eos_id, model_vocab_size));
  DSE_RETURN_IF_ERROR(check_id("pad_id", d.pad_id, model_vocab_size));
  d.add_bos = t->add_bos();
  d.add_eos = t->add_eos();
  if (d.add_bos && d.bos_id < 0) return bad("add_bos is set but bos_id is -1");
  if (d.add_eos && d.eos_id < 0) return bad("add_eos is set but eos_id is -1");
  d.ignore_merges = t->ignore_merges();

  if (const fb::ChatFormat* c = t->chat()) {
    d.chat.begin = str(c->begin());
    d.chat.system_prefix = str(c->system_prefix());
    d.chat.system_suffix = str(c->system_suffix());
    d.chat.user_prefix = str(c->user_prefix());
    d.chat.user_suffix = str(c->user_suffix());
    d.chat.assistant_prefix = str(c->assistant_prefix());
    d.chat.assistant_suffix = str(c->assistant_suffix());
    d.chat.template_source = str(c->template_source());
  }
  return d;
}

}  // namespace dse::runtime
