// libFuzzer harness: untrusted prompts and untrusted token ids through the tokenizer, with the two
// real vocabularies (tests/fixtures/tokenizer/{deepseek-v3,qwen2.5}, loaded once per process).
//
// Per input: the bytes as a prompt (encode must reject invalid UTF-8 with invalid_argument and
// no ids, and accept everything else with ids in range); the bytes repaired with
// append_utf8_lossy (must always encode); round trips decode(encode(text)) == text where the
// vocabulary guarantees it; the bytes as a sequence of token ids (any int32, in range or not)
// through decode and StreamDecoder, whose concatenated output must equal decode and which must
// never hold more than 3 bytes. A broken property traps, like a sanitizer finding would.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dse/tokenizer/load_tokenizer_json.h"
#include "dse/tokenizer/stream_decoder.h"
#include "dse/tokenizer/tokenizer.h"
#include "dse/tokenizer/utf8.h"

namespace {

using dse::tokenizer::Tokenizer;

[[noreturn]] void property_violation(const char* vocabulary, const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_tokenizer (%s): %s: %s\n", vocabulary, what, detail.c_str());
  std::abort();
}

struct Vocabulary {
  const char* name;
  std::unique_ptr<Tokenizer> tokenizer;
  // decode(encode(text)) == text holds for valid UTF-8 when nothing rewrites the text: no
  // normalizer (qwen2.5 applies NFC, which is the identity on ASCII only) and no added token that
  // strips whitespace around itself.
  bool exact_round_trip;
};

std::unique_ptr<Tokenizer> load(const char* name) {
  const std::string dir = std::string(DSE_FUZZ_TOKENIZER_FIXTURES) + "/" + name;
  auto data = dse::tokenizer::load_tokenizer_json(dir + "/tokenizer.json", dir + "/tokenizer_config.json");
  if (!data.ok()) property_violation(name, "cannot load the fixture", data.status().message());
  auto tok = Tokenizer::create(std::move(data).value());
  if (!tok.ok()) property_violation(name, "cannot build the tokenizer", tok.status().message());
  return std::make_unique<Tokenizer>(std::move(tok).value());
}

bool strips_whitespace(const Tokenizer& tok) {
  for (const auto& t : tok.data().added_tokens) {
    if (t.lstrip || t.rstrip) return true;
  }
  return false;
}

// Built on first use, destroyed at exit (so LeakSanitizer sees nothing left).
std::vector<Vocabulary>& vocabularies() {
  static std::vector<Vocabulary> v = [] {
    std::vector<Vocabulary> out;
    for (const char* name : {"deepseek-v3", "qwen2.5"}) {
      std::unique_ptr<Tokenizer> tok = load(name);
      const bool exact = tok->data().normalizer.empty() && !strips_whitespace(*tok);
      out.push_back({name, std::move(tok), exact});
    }
    return out;
  }();
  return v;
}

bool is_ascii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

void check_encode(const Vocabulary& v, std::string_view text, std::vector<int32_t>& ids, std::string& decoded) {
  Tokenizer& tok = *v.tokenizer;
  const size_t invalid_at = dse::tokenizer::find_invalid_utf8(text);
  for (bool add_special : {false, true}) {
    ids.assign(3, 7);  // stale contents must not survive either outcome
    const dse::Status st = tok.encode(text, add_special, ids);
    if (invalid_at < text.size()) {
      if (st.code() != dse::StatusCode::invalid_argument) {
        property_violation(v.name, "encode of invalid UTF-8", "expected invalid_argument, got '" + st.message() + "'");
      }
      if (st.message().empty()) property_violation(v.name, "encode of invalid UTF-8", "no message");
      continue;
    }
    if (!st.ok()) property_violation(v.name, "encode of valid UTF-8 failed", st.message());
    for (int32_t id : ids) {
      if (!tok.is_valid_id(id)) property_violation(v.name, "encode produced an invalid id", std::to_string(id));
    }
    if (!add_special && (v.exact_round_trip || is_ascii(text))) {
      decoded.clear();
      if (!tok.decode(ids, decoded).ok()) property_violation(v.name, "decode failed", "");
      if (decoded != text) {
        property_violation(v.name, "decode(encode(text)) != text",
                           std::to_string(text.size()) + " bytes in, " + std::to_string(decoded.size()) + " out");
      }
    }
  }
}

void check_decode(const Vocabulary& v, const std::vector<int32_t>& ids, bool skip_special) {
  const Tokenizer& tok = *v.tokenizer;
  std::string whole;
  if (!tok.decode(ids, whole, skip_special).ok()) property_violation(v.name, "decode failed", "");
  if (dse::tokenizer::find_invalid_utf8(whole) != whole.size()) {
    property_violation(v.name, "decode produced invalid UTF-8", std::to_string(whole.size()) + " bytes");
  }
  dse::tokenizer::StreamDecoder stream(tok, skip_special);
  std::string streamed;
  for (int32_t id : ids) {
    const size_t before = streamed.size();
    if (!stream.push(id, streamed).ok()) property_violation(v.name, "StreamDecoder::push failed", std::to_string(id));
    if (stream.pending_bytes() > 3) {
      property_violation(v.name, "StreamDecoder holds too much", std::to_string(stream.pending_bytes()) + " bytes");
    }
    const std::string_view piece(streamed.data() + before, streamed.size() - before);
    if (dse::tokenizer::find_invalid_utf8(piece) != piece.size()) {
      property_violation(v.name, "StreamDecoder emitted a split or invalid character", std::to_string(id));
    }
  }
  stream.finish(streamed);
  if (streamed != whole) {
    property_violation(v.name, "streamed text != decode", std::to_string(streamed.size()) + " vs " +
                                                              std::to_string(whole.size()) + " bytes");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  vocabularies();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string repaired;
  dse::tokenizer::append_utf8_lossy(text, repaired);
  if (dse::tokenizer::find_invalid_utf8(repaired) != repaired.size()) {
    property_violation("utf8", "append_utf8_lossy left invalid UTF-8", std::to_string(size) + " bytes in");
  }
  const size_t prefix = dse::tokenizer::utf8_complete_prefix(text);
  if (prefix > size || size - prefix > 3) {
    property_violation("utf8", "utf8_complete_prefix held back more than 3 bytes", std::to_string(size - prefix));
  }

  std::vector<int32_t> ids;
  std::string scratch;
  for (const Vocabulary& v : vocabularies()) {
    check_encode(v, text, ids, scratch);
    if (repaired != text) check_encode(v, repaired, ids, scratch);

    // The same bytes as ids: little-endian int32 words. Most are folded into the id range so that
    // decoding does real work; words with the top bit set stay as they are (negative, huge).
    ids.clear();
    const uint32_t id_count = uint32_t(v.tokenizer->id_count());
    for (size_t i = 0; i + 4 <= size; i += 4) {
      uint32_t word;
      std::memcpy(&word, data + i, 4);
      ids.push_back((word & 0x80000000u) ? int32_t(word) : int32_t(word % (id_count + 16)));
    }
    check_decode(v, ids, false);
    check_decode(v, ids, true);
  }
  return 0;
}
