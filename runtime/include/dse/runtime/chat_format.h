// A conversation rendered as text with the artifact's chat format: each turn is
// prefix + content + suffix (tokenizer::ChatFormat, derived by dsc from the chat template).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "dse/tokenizer/tokenizer_data.h"

namespace dse::runtime {

enum class ChatRole { system, user, assistant };

struct ChatMessage {
  ChatRole role = ChatRole::user;
  std::string_view content;
};

struct ChatRenderOptions {
  bool begin = false;              // start with `begin` (a new conversation)
  bool close_assistant = false;    // start with the assistant suffix (the previous reply ended)
  bool generation_prompt = false;  // end with the assistant prefix (the model answers next)
};

// Whether the artifact gave a chat format at all (a base model has none).
bool has_chat_format(const tokenizer::ChatFormat& chat);

// Appends the rendering of `messages` to `out`.
void render_chat(const tokenizer::ChatFormat& chat, std::span<const ChatMessage> messages,
                 const ChatRenderOptions& options, std::string& out);

}  // namespace dse::runtime
