// Where dse-tokenize gets its tokenizer from: a Hugging Face tokenizer.json or a compiled artifact.
#pragma once

#include <string>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse::samples {

struct TokenizerSource {
  std::string tokenizer_json;    // --tokenizer-json: tokenizer.json or the folder holding it
  std::string tokenizer_config;  // --tokenizer-config: defaults to tokenizer_config.json beside it
  std::string artifact;          // --artifact: a .dse; its Tokenizer table, as the runtime reads it
};

// Resolves the paths and loads the tokenizer data. Errors say which flag to fix.
Result<tokenizer::TokenizerData> load_tokenizer_data(const TokenizerSource& source);

}  // namespace dse::samples
