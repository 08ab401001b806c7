// PreTokenizer: the pre_tokenizer steps of tokenizer.json, run with PCRE2 (UTF + UCP + JIT).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse::tokenizer {

// A pre-token: a byte range of PreTokenizer::buffer().
struct Piece {
  uint32_t begin;
  uint32_t end;
};

class PreTokenizer {
 public:
  // Compiles every step's pattern. Errors name the step index and the pattern.
  static Result<std::unique_ptr<PreTokenizer>> create(const std::vector<PreTokenizerStep>& steps);
  ~PreTokenizer();

  // Splits `text` (valid UTF-8) into pieces of buffer(), in order, none empty. Reuses internal
  // buffers: the result is valid until the next call.
  void run(std::string_view text, std::vector<Piece>& out);
  const std::string& buffer() const { return buffer_; }

 private:
  enum class Behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };
  struct Step {
    void* code = nullptr;  // pcre2_code_8*, null for a step that only maps bytes
    Behavior behavior = Behavior::isolated;
    bool invert = false;
    bool add_prefix_space = false;  // byte_level
  };
  struct Match {
    uint32_t begin;
    uint32_t end;
    bool is_match;
  };
  PreTokenizer() = default;
  void split_piece(const Step& step, Piece piece, std::vector<Piece>& out);

  std::vector<Step> steps_;
  void* match_data_ = nullptr;  // pcre2_match_data_8*
  std::string buffer_;          // the text, plus prefix-space copies appended by byte_level
  std::vector<Piece> scratch_;
  std::vector<Match> matches_;
  std::vector<Match> merged_;
};

}  // namespace dse::tokenizer
