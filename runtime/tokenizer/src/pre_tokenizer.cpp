// PreTokenizer: HF's Split / Digits / ByteLevel pre-tokenizers over byte ranges, with PCRE2.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>

#include "dse/tokenizer/hf_regex.h"

namespace dse::tokenizer {
namespace {

Result<pcre2_code*> compile(std::string_view pattern, size_t step_index) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return Status(StatusCode::invalid_argument,
                  "pre_tokenizer step " + std::to_string(step_index) + ": pattern " +
                      std::string(pattern) + " does not compile with PCRE2 at offset " +
                      std::to_string(offset) + ": " + reinterpret_cast<const char*>(message) +
                      "; expected a regex in PCRE2 syntax (translate_hf_regex)");
  }
  // JIT is a speed-up only: where it is unavailable (some targets) matching still works.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return code;
}

bool parse_behavior(std::string_view s, int& out) {
  static constexpr std::string_view kNames[] = {"removed", "isolated", "merged_with_previous",
                                                "merged_with_next", "contiguous"};
  for (int i = 0; i < 5; ++i) {
    if (s == kNames[i]) {
      out = i;
      return true;
    }
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::create(
    const std::vector<PreTokenizerStep>& steps) {
  std::unique_ptr<PreTokenizer> pt(new PreTokenizer());
  for (size_t i = 0; i < steps.size(); ++i) {
    const PreTokenizerStep& s = steps[i];
    Step step;
    std::string pattern;
    if (s.kind == "split") {
      pattern = s.pattern;
      int b = 0;
      if (!parse_behavior(s.behavior, b)) {
        return Status(StatusCode::unsupported,
                      "pre_tokenizer step " + std::to_string(i) + ": split behavior \"" +
                          s.behavior +
                          "\" is not one of removed, isolated, merged_with_previous, "
                          "merged_with_next, contiguous");
      }
      step.behavior = static_cast<Behavior>(b);
      step.invert = s.invert;
    } else if (s.kind == "digits") {
      // HF's Digits: each numeric char is a match; contiguous runs merge unless individual.
      pattern = R"(\p{N})";
      step.behavior = s.individual_digits ? Behavior::isolated : Behavior::contiguous;
    } else if (s.kind == "byte_level") {
      step.add_prefix_space = s.add_prefix_space;
      if (s.use_regex) {
        auto translated = translate_hf_regex(kGpt2Pattern);
        if (!translated.ok()) return translated.status();
        pattern = std::move(translated.value());
      }
    } else {
      return Status(StatusCode::unsupported,
                    "pre_tokenizer step " + std::to_string(i) + ": kind \"" + s.kind +
                        "\" is not one of split, digits, byte_level");
    }
    if (!pattern.empty()) {
      auto code = compile(pattern, i);
      if (!code.ok()) return code.status();
      step.code = code.value();
    }
    pt->steps_.push_back(step);
  }
  pt->match_data_ = pcre2_match_data_create(1, nullptr);
  if (pt->match_data_ == nullptr) {
    return Status(StatusCode::out_of_memory, "pre_tokenizer: cannot allocate PCRE2 match data");
  }
  return pt;
}

PreTokenizer::~PreTokenizer() {
  for (Step& s : steps_) pcre2_code_free(static_cast<pcre2_code*>(s.code));
  pcre2_match_data_free(static_cast<pcre2_match_data*>(match_data_));
}

void PreTokenizer::run(std::string_view text, std::vector<Piece>& out) {
  buffer_.assign(text);
  out.clear();
  if (!text.empty()) out.push_back(Piece{0, static_cast<uint32_t>(text.size())});
  for (const Step& step : steps_) {
    scratch_.clear();
    for (Piece piece : out) {
      if (step.add_prefix_space && buffer_[piece.begin] != ' ') {
        // HF prepends a space to each piece that lacks one; the copy goes at the buffer's end.
        const uint32_t begin = static_cast<uint32_t>(buffer_.size());
        buffer_ += ' ';
        buffer_.append(buffer_, piece.begin, piece.end - piece.begin);
        piece = Piece{begin, static_cast<uint32_t>(buffer_.size())};
      }
      if (step.code == nullptr) {
        scratch_.push_back(piece);
      } else {
        split_piece(step, piece, scratch_);
      }
    }
    out.swap(scratch_);
  }
}

void PreTokenizer::split_piece(const Step& step, Piece piece, std::vector<Piece>& out) {
  auto* code = static_cast<pcre2_code*>(step.code);
  auto* md = static_cast<pcre2_match_data*>(match_data_);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(buffer_.data() + piece.begin);
  const PCRE2_SIZE length = piece.end - piece.begin;

  // All matches and the gaps between them, covering the piece (HF Pattern::find_matches).
  matches_.clear();
  PCRE2_SIZE start = 0, prev = 0;
  while (start <= length) {
    // The text was validated once in encode; PCRE2 would otherwise re-check it on every call.
    const int rc = pcre2_match(code, subject, length, start, PCRE2_NO_UTF_CHECK, md, nullptr);
    if (rc < 0) break;  // no match (or a matching limit: the rest stays one piece)
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const PCRE2_SIZE mb = ov[0], me = ov[1];
    if (prev != mb) matches_.push_back(Match{uint32_t(prev), uint32_t(mb), false});
    matches_.push_back(Match{uint32_t(mb), uint32_t(me), true});
    prev = me;
    if (me == mb) {
      // Empty match: step over one character so that the search moves on.
      if (me >= length) break;
      start = me + 1;
      while (start < length && (subject[start] & 0xC0) == 0x80) ++start;
    } else {
      start = me;
    }
  }
  if (prev != length) matches_.push_back(Match{uint32_t(prev), uint32_t(length), false});
  if (step.invert) {
    for (Match& m : matches_) m.is_match = !m.is_match;
  }

  // Apply the behaviour (HF NormalizedString::split); is_match in merged_ means "remove".
  merged_.clear();
  switch (step.behavior) {
    case Behavior::isolated:
      for (const Match& m : matches_) merged_.push_back(Match{m.begin, m.end, false});
      break;
    case Behavior::removed:
      merged_ = matches_;
      break;
    case Behavior::merged_with_previous: {
      bool previous_match = false;
      for (const Match& m : matches_) {
        if (m.is_match && !previous_match && !merged_.empty()) {
          merged_.back().end = m.end;
        } else {
          merged_.push_back(Match{m.begin, m.end, false});
        }
        previous_match = m.is_match;
      }
      break;
    }
    case Behavior::merged_with_next: {
      bool previous_match = false;
      for (size_t k = matches_.size(); k-- > 0;) {
        const Match& m = matches_[k];
        if (m.is_match && !previous_match && !merged_.empty()) {
          merged_.back().begin = m.begin;
        } else {
          merged_.push_back(Match{m.begin, m.end, false});
        }
        previous_match = m.is_match;
      }
      std::reverse(merged_.begin(), merged_.end());
      break;
    }
    case Behavior::contiguous: {
      bool previous_match = false;
      for (const Match& m : matches_) {
        if (m.is_match == previous_match && !merged_.empty()) {
          merged_.back().end = m.end;
        } else {
          merged_.push_back(Match{m.begin, m.end, false});
        }
        previous_match = m.is_match;
      }
      break;
    }
  }
  for (const Match& m : merged_) {
    if (m.is_match || m.begin == m.end) continue;  // removed, or empty (HF drops empty splits)
    out.push_back(Piece{piece.begin + m.begin, piece.begin + m.end});
  }
}

}  // namespace dse::tokenizer
