// TokenizerData -> fb::Tokenizer, field for field (the table mirrors the struct).
#include "dse/compiler/Emit/TokenizerTable.h"

namespace dse {

flatbuffers::Offset<fb::Tokenizer> build_tokenizer_table(flatbuffers::FlatBufferBuilder& fbb,
                                                         const tokenizer::TokenizerData& d) {
  auto model = fbb.CreateString(d.model);
  auto vocab = fbb.CreateVectorOfStrings(d.vocab);
  auto merges = fbb.CreateVectorOfStrings(d.merges);
  std::vector<flatbuffers::Offset<fb::AddedToken>> added;
  for (const tokenizer::AddedToken& t : d.added_tokens)
    added.push_back(fb::CreateAddedToken(fbb, t.id, fbb.CreateString(t.content), t.special,
                                         t.lstrip, t.rstrip, t.normalized, t.single_word));
  auto added_vec = fbb.CreateVector(added);
  auto normalizer = fbb.CreateString(d.normalizer);
  std::vector<flatbuffers::Offset<fb::PreTokenizerStep>> steps;
  for (const tokenizer::PreTokenizerStep& s : d.pre_tokenizer)
    steps.push_back(fb::CreatePreTokenizerStep(fbb, fbb.CreateString(s.kind),
                                               fbb.CreateString(s.pattern),
                                               fbb.CreateString(s.behavior), s.invert,
                                               s.add_prefix_space, s.use_regex,
                                               s.individual_digits));
  auto steps_vec = fbb.CreateVector(steps);
  auto decoder = fbb.CreateString(d.decoder);
  const tokenizer::ChatFormat& c = d.chat;
  auto chat = fb::CreateChatFormat(
      fbb, fbb.CreateString(c.begin), fbb.CreateString(c.system_prefix),
      fbb.CreateString(c.system_suffix), fbb.CreateString(c.user_prefix),
      fbb.CreateString(c.user_suffix), fbb.CreateString(c.assistant_prefix),
      fbb.CreateString(c.assistant_suffix), fbb.CreateString(c.template_source));
  return fb::CreateTokenizer(fbb, model, vocab, merges, added_vec, normalizer, steps_vec, decoder,
                             d.bos_id, d.eos_id, d.pad_id, d.add_bos, d.add_eos, d.ignore_merges,
                             chat);
}

}  // namespace dse
