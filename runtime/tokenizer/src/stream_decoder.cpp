// StreamDecoder: holds back an unfinished UTF-8 character until its last byte arrives.
#include "dse/tokenizer/stream_decoder.h"

#include "dse/tokenizer/utf8.h"

namespace dse::tokenizer {

Status StreamDecoder::push(int32_t id, std::string& out) {
  if (!tokenizer_->is_valid_id(id)) return Status::Ok();  // as decode: nothing
  if (skip_special_ && tokenizer_->is_special(id)) return Status::Ok();
  pending_.append(tokenizer_->token_bytes(id));
  const size_t ready = utf8_complete_prefix(pending_);
  if (ready > 0) {
    append_utf8_lossy(std::string_view(pending_).substr(0, ready), out);
    pending_.erase(0, ready);
  }
  return Status::Ok();
}

void StreamDecoder::finish(std::string& out) {
  append_utf8_lossy(pending_, out);
  pending_.clear();
}

}  // namespace dse::tokenizer
