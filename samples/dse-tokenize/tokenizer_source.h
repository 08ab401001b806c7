// Where dse-tokenize gets its tokenizer from: a Hugging Face tokenizer.json (an artifact later).
#pragma once

#include <string>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse::samples {

struct TokenizerSource {
  std::string tokenizer_json;    // --tokenizer-json: tokenizer.json or the folder holding it
  std::string tokenizer_config;  // --tokenizer-config: defaults to tokenizer_config.json beside it
  // An --artifact path goes here once the runtime loader exists: load_tokenizer_data then reads
  // the artifact's Tokenizer table and converts it to TokenizerData.
};

// Resolves the paths and loads the tokenizer data. Errors say which flag to fix.
Result<tokenizer::TokenizerData> load_tokenizer_data(const TokenizerSource& source);

}  // namespace dse::samples
