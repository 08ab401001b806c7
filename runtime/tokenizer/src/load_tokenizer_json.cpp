// load_tokenizer_json: tokenizer.json + tokenizer_config.json -> TokenizerData (nlohmann-json).
#include "dse/tokenizer/load_tokenizer_json.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "dse/tokenizer/chat_format.h"
#include "dse/tokenizer/hf_regex.h"

namespace dse::tokenizer {
namespace {

using json = nlohmann::json;

Status unsupported(const std::string& key, const std::string& found, const std::string& expected) {
  return Status(StatusCode::unsupported, "tokenizer.json: " + key + " is " + found +
                                             "; only byte-level BPE is supported (expected " +
                                             expected + ")");
}

std::string show(const json& j) {
  std::string s = j.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

bool get_bool(const json& obj, const char* key, bool fallback) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status(StatusCode::not_found,
                  "cannot open " + path + "; expected a Hugging Face tokenizer file there");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Status(StatusCode::io_error, "reading " + path + " failed");
  return ss.str();
}

Status parse_model(const json& model, TokenizerData& d) {
  const std::string type = model.value("type", std::string());
  if (type != "BPE") return unsupported("model.type", "\"" + type + "\"", "\"BPE\"");
  if (model.contains("dropout") && !model["dropout"].is_null()) {
    return unsupported("model.dropout", show(model["dropout"]), "null");
  }
  if (get_bool(model, "byte_fallback", false)) {
    return unsupported("model.byte_fallback", "true", "false: byte-level vocabularies need no fallback");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && model[key].is_string() && !model[key].get<std::string>().empty()) {
      return unsupported(std::string("model.") + key, show(model[key]), "null or \"\"");
    }
  }
  d.ignore_merges = get_bool(model, "ignore_merges", false);

  const json& vocab = model.at("vocab");
  if (!vocab.is_object()) return unsupported("model.vocab", "not an object", "{token: id}");
  int64_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) max_id = std::max(max_id, it.value().get<int64_t>());
  if (max_id >= (int64_t{1} << 30)) return unsupported("model.vocab", "an id above 2^30", "ids below 2^30");
  d.vocab.assign(static_cast<size_t>(max_id + 1), std::string());
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const int64_t id = it.value().get<int64_t>();
    if (id < 0) return unsupported("model.vocab[\"" + it.key() + "\"]", std::to_string(id), "an id >= 0");
    d.vocab[static_cast<size_t>(id)] = it.key();
  }

  const json& merges = model.at("merges");
  d.merges.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const json& m = merges[i];
    if (m.is_string()) {
      d.merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      // Newer tokenizers write [left, right]; a space inside a side cannot be kept in "a b" form.
      const std::string l = m[0].get<std::string>(), r = m[1].get<std::string>();
      if (l.find(' ') != std::string::npos || r.find(' ') != std::string::npos) {
        return unsupported("model.merges[" + std::to_string(i) + "]", show(m),
                           "tokens without spaces (byte-level BPE writes a space as \"Ġ\")");
      }
      d.merges.push_back(l + " " + r);
    } else {
      return unsupported("model.merges[" + std::to_string(i) + "]", show(m),
                         "\"left right\" or [\"left\", \"right\"]");
    }
  }
  return Status::Ok();
}

Status parse_normalizer(const json& n, TokenizerData& d, const std::string& key) {
  if (n.is_null()) return Status::Ok();
  const std::string type = n.value("type", std::string());
  if (type == "NFC") {
    d.normalizer = "nfc";
    return Status::Ok();
  }
  if (type == "Sequence") {
    const json& list = n.at("normalizers");
    for (size_t i = 0; i < list.size(); ++i) {
      DSE_RETURN_IF_ERROR(parse_normalizer(list[i], d, key + ".normalizers[" + std::to_string(i) + "]"));
    }
    return Status::Ok();
  }
  return unsupported(key + ".type", "\"" + type + "\"", "\"NFC\", an empty \"Sequence\" or null");
}

Result<std::string> behavior_name(const std::string& hf, const std::string& key) {
  if (hf == "Removed") return std::string("removed");
  if (hf == "Isolated") return std::string("isolated");
  if (hf == "MergedWithPrevious") return std::string("merged_with_previous");
  if (hf == "MergedWithNext") return std::string("merged_with_next");
  if (hf == "Contiguous") return std::string("contiguous");
  return unsupported(key, "\"" + hf + "\"",
                     "Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous");
}

Status parse_pre_tokenizer(const json& p, TokenizerData& d, const std::string& key) {
  if (p.is_null()) return Status::Ok();
  const std::string type = p.value("type", std::string());
  PreTokenizerStep step;
  if (type == "Sequence") {
    const json& list = p.at("pretokenizers");
    for (size_t i = 0; i < list.size(); ++i) {
      DSE_RETURN_IF_ERROR(parse_pre_tokenizer(list[i], d, key + ".pretokenizers[" + std::to_string(i) + "]"));
    }
    return Status::Ok();
  }
  if (type == "Split") {
    step.kind = "split";
    const json& pattern = p.at("pattern");
    if (pattern.contains("Regex")) {
      auto translated = translate_hf_regex(pattern["Regex"].get<std::string>());
      if (!translated.ok()) {
        return Status(translated.status().code(),
                      "tokenizer.json: " + key + ".pattern.Regex: " + translated.status().message());
      }
      step.pattern = std::move(translated.value());
    } else if (pattern.contains("String")) {
      step.pattern = escape_regex_literal(pattern["String"].get<std::string>());
    } else {
      return unsupported(key + ".pattern", show(pattern), "{\"Regex\": ...} or {\"String\": ...}");
    }
    auto b = behavior_name(p.value("behavior", std::string()), key + ".behavior");
    if (!b.ok()) return b.status();
    step.behavior = b.value();
    step.invert = get_bool(p, "invert", false);
  } else if (type == "ByteLevel") {
    step.kind = "byte_level";
    step.add_prefix_space = get_bool(p, "add_prefix_space", true);  // HF's default
    step.use_regex = get_bool(p, "use_regex", true);                // HF's default
  } else if (type == "Digits") {
    step.kind = "digits";
    step.individual_digits = get_bool(p, "individual_digits", false);
  } else {
    return unsupported(key + ".type", "\"" + type + "\"", "Sequence, Split, ByteLevel or Digits");
  }
  d.pre_tokenizer.push_back(std::move(step));
  return Status::Ok();
}

Status parse_decoder(const json& dec, TokenizerData& d) {
  if (!dec.is_null()) {
    const std::string type = dec.value("type", std::string());
    if (type == "ByteLevel") {
      d.decoder = "byte_level";
      return Status::Ok();
    }
    if (type == "Sequence" && dec.contains("decoders") && dec["decoders"].size() == 1 &&
        dec["decoders"][0].value("type", std::string()) == "ByteLevel") {
      d.decoder = "byte_level";
      return Status::Ok();
    }
    return unsupported("decoder.type", "\"" + type + "\"", "\"ByteLevel\"");
  }
  return unsupported("decoder", "null", "{\"type\": \"ByteLevel\"}");
}

// TemplateProcessing's single-sequence template: a SpecialToken before the sequence is a BOS,
// one after it an EOS. Anything else (pairs, type ids) does not matter for generation.
Status parse_post_processor(const json& pp, TokenizerData& d,
                            const std::unordered_map<std::string, int64_t>& ids) {
  if (pp.is_null()) return Status::Ok();
  const std::string type = pp.value("type", std::string());
  if (type == "Sequence") {
    for (const json& p : pp.at("processors")) DSE_RETURN_IF_ERROR(parse_post_processor(p, d, ids));
    return Status::Ok();
  }
  if (type != "TemplateProcessing") return Status::Ok();  // ByteLevel: offsets only
  bool seen_sequence = false;
  for (const json& piece : pp.at("single")) {
    if (piece.contains("Sequence")) {
      seen_sequence = true;
    } else if (piece.contains("SpecialToken")) {
      const std::string name = piece["SpecialToken"].at("id").get<std::string>();
      auto it = ids.find(name);
      if (it == ids.end()) {
        return Status(StatusCode::invalid_argument,
                      "tokenizer.json: post_processor.single names special token \"" + name +
                          "\" that is not in added_tokens or the vocabulary");
      }
      (seen_sequence ? d.eos_id : d.bos_id) = it->second;
      (seen_sequence ? d.add_eos : d.add_bos) = true;
    }
  }
  return Status::Ok();
}

// bos_token / eos_token / pad_token: a string, {"content": ...} or null.
std::string token_text(const json& config, const char* key) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content")) return (*it)["content"].get<std::string>();
  return {};
}

}  // namespace

Result<TokenizerData> parse_tokenizer_json(std::string_view tokenizer_json,
                                           std::string_view tokenizer_config_json,
                                           std::optional<std::string_view> chat_template_override) {
  TokenizerData d;
  const char* stage = "tokenizer.json";
  try {
    const json tj = json::parse(tokenizer_json);
    DSE_RETURN_IF_ERROR(parse_model(tj.at("model"), d));
    for (const json& a : tj.value("added_tokens", json::array())) {
      AddedToken t;
      t.id = a.at("id").get<uint32_t>();
      t.content = a.at("content").get<std::string>();
      t.special = get_bool(a, "special", false);
      t.lstrip = get_bool(a, "lstrip", false);
      t.rstrip = get_bool(a, "rstrip", false);
      t.normalized = get_bool(a, "normalized", !t.special);  // HF's default
      t.single_word = get_bool(a, "single_word", false);
      d.added_tokens.push_back(std::move(t));
    }
    DSE_RETURN_IF_ERROR(parse_normalizer(tj.value("normalizer", json()), d, "normalizer"));
    DSE_RETURN_IF_ERROR(parse_pre_tokenizer(tj.value("pre_tokenizer", json()), d, "pre_tokenizer"));
    bool byte_level = false;
    for (const PreTokenizerStep& s : d.pre_tokenizer) byte_level |= s.kind == "byte_level";
    if (!byte_level) {
      return unsupported("pre_tokenizer", "without a ByteLevel step", "a ByteLevel pre-tokenizer");
    }
    DSE_RETURN_IF_ERROR(parse_decoder(tj.value("decoder", json()), d));

    std::unordered_map<std::string, int64_t> ids;
    for (size_t id = 0; id < d.vocab.size(); ++id) {
      if (!d.vocab[id].empty()) ids.emplace(d.vocab[id], static_cast<int64_t>(id));
    }
    for (const AddedToken& a : d.added_tokens) ids[a.content] = a.id;
    DSE_RETURN_IF_ERROR(parse_post_processor(tj.value("post_processor", json()), d, ids));

    std::string chat_template;
    std::string bos_text, eos_text;
    if (!tokenizer_config_json.empty()) {
      stage = "tokenizer_config.json";
      const json cfg = json::parse(tokenizer_config_json);
      auto lookup = [&](const char* key, int64_t& out) -> Status {
        const std::string text = token_text(cfg, key);
        if (text.empty()) return Status::Ok();
        auto it = ids.find(text);
        if (it == ids.end()) {
          return Status(StatusCode::invalid_argument,
                        std::string("tokenizer_config.json: ") + key + " \"" + text +
                            "\" is neither an added token nor in the vocabulary of tokenizer.json");
        }
        out = it->second;
        return Status::Ok();
      };
      DSE_RETURN_IF_ERROR(lookup("bos_token", d.bos_id));
      DSE_RETURN_IF_ERROR(lookup("eos_token", d.eos_id));
      DSE_RETURN_IF_ERROR(lookup("pad_token", d.pad_id));
      bos_text = token_text(cfg, "bos_token");
      eos_text = token_text(cfg, "eos_token");
      // transformers rebuilds the post-processor from these flags, so they win.
      if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) {
        d.add_bos = cfg["add_bos_token"].get<bool>() && d.bos_id >= 0;
      }
      if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) {
        d.add_eos = cfg["add_eos_token"].get<bool>() && d.eos_id >= 0;
      }
      if (cfg.contains("chat_template")) {
        const json& ct = cfg["chat_template"];
        if (ct.is_string()) {
          chat_template = ct.get<std::string>();
        } else if (ct.is_array()) {  // [{"name": "default", "template": ...}, ...]
          for (const json& named : ct) {
            if (named.value("name", std::string()) == "default") {
              chat_template = named.value("template", std::string());
            }
          }
        }
      }
    }
    if (chat_template_override) chat_template = std::string(*chat_template_override);
    auto chat = derive_chat_format(chat_template, bos_text, eos_text);
    if (!chat.ok()) return chat.status();
    d.chat = std::move(chat.value());
  } catch (const json::exception& e) {
    return Status(StatusCode::corrupt_data,
                  std::string(stage) + ": " + e.what() +
                      "; expected a Hugging Face tokenizers file (tokenizer.json format)");
  }
  return d;
}

Result<TokenizerData> load_tokenizer_json(const std::string& tokenizer_json_path,
                                          const std::string& tokenizer_config_json_path,
                                          std::optional<std::string_view> chat_template_override) {
  auto tj = read_file(tokenizer_json_path);
  if (!tj.ok()) return tj.status();
  std::string cfg;
  if (!tokenizer_config_json_path.empty()) {
    auto c = read_file(tokenizer_config_json_path);
    if (!c.ok()) return c.status();
    cfg = std::move(c.value());
  }
  auto d = parse_tokenizer_json(tj.value(), cfg, chat_template_override);
  if (!d.ok()) {
    return Status(d.status().code(), d.status().message() + " (" + tokenizer_json_path + ")");
  }
  return d;
}

}  // namespace dse::tokenizer
