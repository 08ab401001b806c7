// The artifact's Tokenizer table (formats/artifact.fbs) from the tokenizer library's plain
// TokenizerData (runtime/tokenizer, filled from tokenizer.json).
#pragma once

#include <flatbuffers/flatbuffers.h>

#include "dse/formats/artifact_generated.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse {

flatbuffers::Offset<fb::Tokenizer> build_tokenizer_table(flatbuffers::FlatBufferBuilder& fbb,
                                                         const tokenizer::TokenizerData& data);

}  // namespace dse
