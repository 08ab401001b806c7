// Rendering a conversation with the artifact's chat format.
#include "dse/runtime/chat_format.h"

namespace dse::runtime {

bool has_chat_format(const tokenizer::ChatFormat& chat) {
  return !chat.user_prefix.empty() || !chat.user_suffix.empty() || !chat.assistant_prefix.empty();
}

void render_chat(const tokenizer::ChatFormat& chat, std::span<const ChatMessage> messages,
                 const ChatRenderOptions& options, std::string& out) {
  if (options.begin) out += chat.begin;
  if (options.close_assistant) out += chat.assistant_suffix;
  for (const ChatMessage& m : messages) {
    switch (m.role) {
      case ChatRole::system:
        out += chat.system_prefix;
        out += m.content;
        out += chat.system_suffix;
        break;
      case ChatRole::user:
        out += chat.user_prefix;
        out += m.content;
        out += chat.user_suffix;
        break;
      case ChatRole::assistant:
        out += chat.assistant_prefix;
        out += m.content;
        out += chat.assistant_suffix;
        break;
    }
  }
  if (options.generation_prompt) out += chat.assistant_prefix;
}

}  // namespace dse::runtime
