// Tokenizer: builds the tables from TokenizerData and runs HF's encode / decode pipeline.
#include "dse/tokenizer/tokenizer.h"

#include <algorithm>

#include "byte_level.h"
#include "dse/tokenizer/utf8.h"
#include "tokenizer_impl.h"

namespace dse::tokenizer {
namespace {

Status invalid(std::string message) {
  return Status(StatusCode::invalid_argument, "tokenizer data: " + std::move(message));
}

// Builds token_ids, the BPE tables and the decode tables.
Status build_tables(TokenizerImpl& t) {
  const TokenizerData& d = t.data;
  if (d.model != "bpe") {
    return Status(StatusCode::unsupported, "tokenizer data: model \"" + d.model +
                                               "\" is not supported; expected \"bpe\"");
  }
  if (d.decoder != "byte_level") {
    return Status(StatusCode::unsupported, "tokenizer data: decoder \"" + d.decoder +
                                               "\" is not supported; expected \"byte_level\"");
  }
  if (d.normalizer != "" && d.normalizer != "nfc") {
    return Status(StatusCode::unsupported, "tokenizer data: normalizer \"" + d.normalizer +
                                               "\" is not supported; expected \"\" or \"nfc\"");
  }
  t.nfc = d.normalizer == "nfc";

  int64_t id_count = static_cast<int64_t>(d.vocab.size());
  for (const AddedToken& a : d.added_tokens) id_count = std::max<int64_t>(id_count, int64_t{a.id} + 1);
  if (id_count > INT32_MAX / 2) return invalid("more than 2^30 token ids");

  t.token_ids.reserve(d.vocab.size() + d.added_tokens.size());
  for (size_t id = 0; id < d.vocab.size(); ++id) {
    if (!d.vocab[id].empty()) t.token_ids.emplace(d.vocab[id], static_cast<int32_t>(id));
  }
  // Added tokens take precedence over the vocabulary, as in HF's token_to_id.
  for (const AddedToken& a : d.added_tokens) t.token_ids[a.content] = static_cast<int32_t>(a.id);

  // Single-byte tokens: every byte must have one, or some text could not be encoded.
  const auto& byte_map = byte_to_code_point();
  std::string s;
  for (int b = 0; b < 256; ++b) {
    s.clear();
    append_utf8(byte_map[b], s);
    auto it = t.token_ids.find(s);
    if (it == t.token_ids.end()) {
      return invalid("the vocabulary has no token for byte 0x" + std::to_string(b) +
                     " (byte-level character \"" + s + "\"); expected a byte-level BPE vocabulary");
    }
    t.bpe.byte_ids[b] = it->second;
  }

  // Merges: ids of both sides and of their concatenation, which must all be in the vocabulary.
  std::unordered_map<std::string_view, int32_t> vocab_ids;
  vocab_ids.reserve(d.vocab.size());
  for (size_t id = 0; id < d.vocab.size(); ++id) {
    if (!d.vocab[id].empty()) vocab_ids.emplace(d.vocab[id], static_cast<int32_t>(id));
  }
  t.bpe.merges.reserve(d.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < d.merges.size(); ++rank) {
    const std::string& m = d.merges[rank];
    const size_t space = m.find(' ');
    if (space == std::string::npos || space == 0 || space + 1 >= m.size()) {
      return invalid("merge " + std::to_string(rank) + " \"" + m +
                     "\" is not \"left right\" (two tokens and one space)");
    }
    const std::string_view left(m.data(), space), right(m.data() + space + 1, m.size() - space - 1);
    joined.assign(left).append(right);
    auto l = vocab_ids.find(left), r = vocab_ids.find(right), j = vocab_ids.find(joined);
    if (l == vocab_ids.end() || r == vocab_ids.end() || j == vocab_ids.end()) {
      return invalid("merge " + std::to_string(rank) + " \"" + m +
                     "\" uses a token that is not in the vocabulary (" +
                     (l == vocab_ids.end() ? std::string(left)
                      : r == vocab_ids.end() ? std::string(right)
                                             : joined) +
                     ")");
    }
    t.bpe.merges.insert(l->second, r->second,
                        MergeTable::Value{static_cast<int32_t>(rank), j->second});
  }
  t.bpe.ignore_merges = d.ignore_merges;
  std::string raw;
  if (d.ignore_merges) {
    for (size_t id = 0; id < d.vocab.size(); ++id) {
      raw.clear();
      if (!d.vocab[id].empty() && byte_level_decode(d.vocab[id], raw)) {
        t.bpe.raw_vocab.emplace(raw, static_cast<int32_t>(id));
      }
    }
  }

  // Added tokens: the raw matcher sees the input, the normalized one the normalized pieces.
  for (const AddedToken& a : d.added_tokens) {
    if (a.normalized) {
      std::string pattern;
      if (t.nfc) {
        t.normalizer.append_nfc(a.content, pattern);
      } else {
        pattern = a.content;
      }
      t.normalized_matcher.add(pattern, a);
    } else {
      t.raw_matcher.add(a.content, a);
    }
  }

  // Decode table: what HF's ByteLevel decoder makes of each token, before the lossy UTF-8 step:
  // the byte-level characters turned back into bytes, or the token's own UTF-8 when some
  // character is not a byte character (e.g. "<｜User｜>").
  t.id_offsets.assign(static_cast<size_t>(id_count) + 1, 0);
  t.id_flags.assign(static_cast<size_t>(id_count), 0);
  std::vector<const AddedToken*> added_by_id(static_cast<size_t>(id_count), nullptr);
  for (const AddedToken& a : d.added_tokens) added_by_id[a.id] = &a;
  for (int64_t id = 0; id < id_count; ++id) {
    t.id_offsets[id] = static_cast<uint32_t>(t.id_bytes.size());
    const std::string* text = nullptr;
    if (added_by_id[id] != nullptr) {
      text = &added_by_id[id]->content;
      t.id_flags[id] = TokenizerImpl::kValid | (added_by_id[id]->special ? TokenizerImpl::kSpecial : 0);
    } else if (static_cast<size_t>(id) < d.vocab.size() && !d.vocab[id].empty()) {
      text = &d.vocab[id];
      t.id_flags[id] = TokenizerImpl::kValid;
    }
    if (text != nullptr) {
      const size_t mark = t.id_bytes.size();
      if (!byte_level_decode(*text, t.id_bytes)) {
        t.id_bytes.resize(mark);
        t.id_bytes.append(*text);
      }
    }
    if (t.id_bytes.size() > UINT32_MAX / 2) return invalid("vocabulary text over 2 GiB");
  }
  t.id_offsets[id_count] = static_cast<uint32_t>(t.id_bytes.size());

  for (int64_t special : {d.bos_id, d.eos_id, d.pad_id}) {
    if (special >= id_count) {
      return invalid("bos/eos/pad id " + std::to_string(special) + " is not below the id count " +
                     std::to_string(id_count));
    }
  }
  if (d.add_bos && d.bos_id < 0) return invalid("add_bos is set but bos_id is -1");
  if (d.add_eos && d.eos_id < 0) return invalid("add_eos is set but eos_id is -1");
  return Status::Ok();
}

}  // namespace

Tokenizer::Tokenizer(std::unique_ptr<TokenizerImpl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::create(TokenizerData data) {
  auto impl = std::make_unique<TokenizerImpl>();
  impl->data = std::move(data);
  DSE_RETURN_IF_ERROR(build_tables(*impl));
  auto pre = PreTokenizer::create(impl->data.pre_tokenizer);
  if (!pre.ok()) return pre.status();
  impl->pre_tokenizer = std::move(pre.value());
  return Tokenizer(std::move(impl));
}

Status Tokenizer::encode(std::string_view text, bool add_special, std::vector<int32_t>& out) {
  out.clear();
  const size_t bad = find_invalid_utf8(text);
  if (bad != text.size()) {
    return Status(StatusCode::invalid_argument,
                  "encode: the text is not valid UTF-8 at byte " + std::to_string(bad) + " of " +
                      std::to_string(text.size()) +
                      "; repair it first (e.g. append_utf8_lossy replaces invalid bytes by U+FFFD)");
  }
  TokenizerImpl& t = *impl_;
  if (add_special && t.data.add_bos) out.push_back(static_cast<int32_t>(t.data.bos_id));

  // Only invoked on plain-text pieces, after added tokens are taken out.
  auto encode_plain = [&](std::string_view piece_text) {
    t.pre_tokenizer->run(piece_text, t.pieces);
    const std::string& buf = t.pre_tokenizer->buffer();
    for (const Piece& p : t.pieces) {
      t.bpe.encode_word(std::string_view(buf.data() + p.begin, p.end - p.begin), out);
    }
  };

  t.raw_matcher.split(text, t.raw_segments);
  for (const Segment& seg : t.raw_segments) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    std::string_view piece = text.substr(seg.begin, seg.end - seg.begin);
    if (t.nfc && !NfcNormalizer::is_quick_nfc(piece)) {
      t.normalized.clear();
      t.normalizer.append_nfc(piece, t.normalized);
      piece = t.normalized;
    }
    if (t.normalized_matcher.empty()) {
      encode_plain(piece);
      continue;
    }
    t.normalized_matcher.split(piece, t.norm_segments);
    for (const Segment& ns : t.norm_segments) {
      if (ns.id >= 0) {
        out.push_back(ns.id);
      } else {
        encode_plain(piece.substr(ns.begin, ns.end - ns.begin));
      }
    }
  }
  if (add_special && t.data.add_eos) out.push_back(static_cast<int32_t>(t.data.eos_id));
  return Status::Ok();
}

Status Tokenizer::decode(std::span<const int32_t> ids, std::string& out, bool skip_special) const {
  out.clear();
  const TokenizerImpl& t = *impl_;
  std::string bytes;
  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (!is_valid_id(id)) continue;  // as HF: an id without a token decodes to nothing
    if (skip_special && (t.id_flags[id] & TokenizerImpl::kSpecial)) continue;
    bytes.append(token_bytes(id));
  }
  append_utf8_lossy(bytes, out);
  return Status::Ok();
}

std::string_view Tokenizer::token_bytes(int32_t id) const {
  if (!is_valid_id(id)) return {};
  const TokenizerImpl& t = *impl_;
  return std::string_view(t.id_bytes.data() + t.id_offsets[id], t.id_offsets[id + 1] - t.id_offsets[id]);
}

bool Tokenizer::is_special(int32_t id) const {
  return is_valid_id(id) && (impl_->id_flags[id] & TokenizerImpl::kSpecial) != 0;
}

bool Tokenizer::is_valid_id(int32_t id) const {
  return id >= 0 && id < id_count() && (impl_->id_flags[id] & TokenizerImpl::kValid) != 0;
}

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
  auto it = impl_->token_ids.find(std::string(token));
  if (it == impl_->token_ids.end()) return std::nullopt;
  return it->second;
}

int32_t Tokenizer::id_count() const { return static_cast<int32_t>(impl_->id_flags.size()); }

const TokenizerData& Tokenizer::data() const { return impl_->data; }

}  // namespace dse::tokenizer
