// The artifact's fb::Tokenizer table turned into tokenizer::TokenizerData, with the checks that
// make the tables safe to use: the tokenizer comes from the artifact and nowhere else.
#pragma once

#include <cstdint>

#include "dse/formats/artifact_generated.h"
#include "dse/status.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse::runtime {

// Copies the tables out of the (verified) metadata. `model_vocab_size` is ModelConfig.vocab_size:
// every token id (vocabulary, added tokens, bos/eos/pad) must be below it, since the logits have
// that many entries. Errors: corrupt_data naming the table, the index and what was wrong
// (missing table, empty vocabulary, a merge that is not "left right", an id out of range).
Result<tokenizer::TokenizerData> tokenizer_data_from_artifact(const fb::Tokenizer* table,
                                                              uint64_t model_vocab_size);

}  // namespace dse::runtime
