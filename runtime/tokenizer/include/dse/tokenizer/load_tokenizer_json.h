// Reading a Hugging Face tokenizer.json + tokenizer_config.json into TokenizerData.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse::tokenizer {

// Reads tokenizer.json (model, added_tokens, normalizer, pre_tokenizer, decoder, post_processor)
// and tokenizer_config.json (bos/eos/pad tokens, add_bos_token/add_eos_token, chat_template).
// An empty config path skips the config (no bos/eos, no chat format).
// chat_template_override, when set, replaces the config's chat_template.
// Only byte-level BPE is supported; anything else is rejected with `unsupported` and a message
// that names the JSON key (e.g. "tokenizer.json: pre_tokenizer.pretokenizers[1].type is
// \"Metaspace\"..."). Split regexes are translated to PCRE2 syntax here (translate_hf_regex).
Result<TokenizerData> load_tokenizer_json(
    const std::string& tokenizer_json_path, const std::string& tokenizer_config_json_path,
    std::optional<std::string_view> chat_template_override = std::nullopt);

// The same from JSON text already in memory (for tests and for callers that read the files).
Result<TokenizerData> parse_tokenizer_json(
    std::string_view tokenizer_json, std::string_view tokenizer_config_json,
    std::optional<std::string_view> chat_template_override = std::nullopt);

}  // namespace dse::tokenizer
