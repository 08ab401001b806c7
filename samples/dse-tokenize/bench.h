// dse-tokenize --bench: encode throughput on one core.
#pragma once

#include <string>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer.h"

namespace dse::samples {

// Encodes the file in chunks of whole lines of at least 16 KiB (the chunking that
// scripts/gen_tokenizer_fixtures.py uses for HF's number), `repeats` timed passes after one
// warm-up pass, and prints the best pass as MB/s and tokens/s on stdout.
Status run_encode_bench(tokenizer::Tokenizer& tok, const std::string& path, int repeats);

}  // namespace dse::samples
