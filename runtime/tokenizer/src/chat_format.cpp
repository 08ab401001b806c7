// derive_chat_format: role markers of the DeepSeek (V3, R1, R1-Distill) and ChatML templates.
#include "dse/tokenizer/chat_format.h"

#include <string>

namespace dse::tokenizer {
namespace {

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }

}  // namespace

Result<ChatFormat> derive_chat_format(std::string_view tpl, std::string_view bos_text,
                                      std::string_view eos_text) {
  ChatFormat f;
  f.template_source = std::string(tpl);
  if (tpl.empty()) return f;

  // DeepSeek-V3 / R1: {{bos_token}}{{system}}<｜User｜>...<｜Assistant｜>...<｜end▁of▁sentence｜>
  if (contains(tpl, "<｜User｜>") && contains(tpl, "<｜Assistant｜>")) {
    if (contains(tpl, "bos_token")) f.begin = std::string(bos_text);
    f.user_prefix = "<｜User｜>";
    f.assistant_prefix = "<｜Assistant｜>";
    // R1 templates open the answer with "<think>\n"; the Jinja source spells the newline as the
    // escape \n inside a string literal (or, rarely, as a real newline).
    if (contains(tpl, "<｜Assistant｜><think>\\n") || contains(tpl, "<｜Assistant｜><think>\n")) {
      f.assistant_prefix += "<think>\n";
    }
    if (!eos_text.empty() && (contains(tpl, eos_text) || contains(tpl, "eos_token"))) {
      f.assistant_suffix = std::string(eos_text);
    } else if (contains(tpl, "<｜end▁of▁sentence｜>")) {
      f.assistant_suffix = "<｜end▁of▁sentence｜>";
    }
    return f;
  }

  // ChatML (Qwen2): <|im_start|>role\ncontent<|im_end|>\n
  if (contains(tpl, "<|im_start|>") && contains(tpl, "<|im_end|>")) {
    f.system_prefix = "<|im_start|>system\n";
    f.system_suffix = "<|im_end|>\n";
    f.user_prefix = "<|im_start|>user\n";
    f.user_suffix = "<|im_end|>\n";
    f.assistant_prefix = "<|im_start|>assistant\n";
    f.assistant_suffix = "<|im_end|>\n";
    return f;
  }

  return Status(StatusCode::unsupported,
                "chat_template: none of the known role markers (\"<｜User｜>\"/\"<｜Assistant｜>\" "
                "of DeepSeek-V3/R1, \"<|im_start|>\" of ChatML) is in the template; pass a chat "
                "template override that uses them, or add this template to derive_chat_format");
}

}  // namespace dse::tokenizer
