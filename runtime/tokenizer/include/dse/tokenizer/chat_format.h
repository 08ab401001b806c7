// Deriving a ChatFormat (role prefixes and suffixes) from a known Jinja chat template.
#pragma once

#include <string_view>

#include "dse/status.h"
#include "dse/tokenizer/tokenizer_data.h"

namespace dse::tokenizer {

// Recognises the chat templates of DeepSeek-V3 and DeepSeek-R1 (including the R1-Distill ones:
// "<｜User｜>" / "<｜Assistant｜>" markers) and ChatML ("<|im_start|>role\n"), and returns the
// prefixes and suffixes they render, with the template kept verbatim in template_source.
// bos_text / eos_text are the contents of the BOS and EOS tokens ({{bos_token}}, and the text
// DeepSeek templates put after an assistant turn). An empty template gives an empty format.
// Errors: unsupported for a template with none of the known markers (pass an override template
// or add the format to this function).
//
// What a single prefix/suffix per role cannot express, and is therefore approximated:
//   DeepSeek: several system messages are joined with "\n\n" by the template; tool calls.
//   R1 templates that open the answer with "<think>\n": assistant_prefix includes it, so past
//   assistant turns rendered with this format carry it too (R1 drops the reasoning of past turns).
//   ChatML (Qwen): the default system prompt the template adds when there is none.
Result<ChatFormat> derive_chat_format(std::string_view chat_template, std::string_view bos_text,
                                      std::string_view eos_text);

}  // namespace dse::tokenizer
