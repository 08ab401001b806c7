// Opening an artifact: map, verify, decode and validate everything before a session may use it.
#include "dse/runtime/loaded_model.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>

#include "dse/runtime/gpu_backend.h"
#include "dse/targets/kernel_abi.h"
#include "dse/runtime/program_validation.h"
#include "dse/runtime/tokenizer_from_artifact.h"

namespace dse::runtime {

namespace {
std::string str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }
}  // namespace

Result<std::unique_ptr<LoadedModel>> LoadedModel::open(const std::filesystem::path& path, const OpenOptions& options) {
  Result<formats::ArtifactReader> reader = formats::ArtifactReader::open(path);
  if (!reader.ok()) return reader.status();
  std::unique_ptr<LoadedModel> model(new LoadedModel(std::move(reader).value()));
  DSE_RETURN_IF_ERROR(model->decode_tables());
  if (options.verify_segment_checksums) DSE_RETURN_IF_ERROR(model->reader_.verify_all_segments());
  return model;
}

Status LoadedModel::decode_tables() {
  const fb::Artifact& a = artifact();
  const std::string file = reader_.path().string();

  // The target first: nothing else matters if this build cannot run the artifact.
  const fb::TargetInfo* target = a.target();
  const std::string backend = target ? str(target->backend()) : std::string();
  strings_.target = target ? str(target->name()) : std::string();
  // Whether the device is the target's is checked when a session is created (the GPU backend
  // names both); here only whether this build has the backend at all.
  const targets::Backend gpu = gpu_backend_kind();
  if (gpu_backend_built() && backend == targets::backend_name(gpu)) {
    backend_ = gpu;
  } else if (backend != "cpu") {
    const std::string runs = gpu == targets::Backend::hip    ? "CPU and HIP"
                             : gpu == targets::Backend::cuda ? "CPU and CUDA"
                                                             : "CPU";
    const std::string rebuild = backend == "cuda"  ? ", or build libdse with -DDSE_ENABLE_CUDA=ON"
                                : backend == "hip" ? ", or build libdse with -DDSE_ENABLE_HIP=ON"
                                                   : "";
    return Status(StatusCode::target_mismatch,
                  file + " was compiled for target \"" + strings_.target + "\" (backend \"" + backend +
                      "\"); this build of libdse runs " + runs +
                      " artifacts only: compile the model with dsc --target cpu" + rebuild);
  }

  const fb::ModelConfig* config = a.config();
  if (config == nullptr) return Status(StatusCode::corrupt_data, file + ": the artifact has no model config; recompile it with dsc");
  vocab_size_ = config->vocab_size();
  max_seq_len_ = config->max_seq_len();
  if (vocab_size_ == 0 || vocab_size_ > uint64_t(INT32_MAX)) {
    return Status(StatusCode::corrupt_data, file + ": vocab_size is " + std::to_string(vocab_size_) +
                                                ", expected 1 to 2^31 - 1; recompile the model with dsc");
  }
  if (max_seq_len_ == 0 || max_seq_len_ > uint64_t(INT32_MAX)) {
    return Status(StatusCode::corrupt_data, file + ": max_seq_len is " + std::to_string(max_seq_len_) +
                                                ", expected 1 to 2^31 - 1; recompile the model with dsc");
  }
  max_batch_ = config->max_batch();
  if (max_batch_ < 1 || max_batch_ > uint64_t(kMaxBatch)) {
    return Status(StatusCode::corrupt_data, file + ": max_batch is " + std::to_string(max_batch_) + ", expected 1 to " +
                                                std::to_string(kMaxBatch) + "; recompile the model with dsc");
  }
  strings_.family = str(config->family());
  strings_.architecture = str(config->architecture());
  strings_.weight_precision = str(config->weight_precision());
  strings_.producer = str(a.producer());

  auto with_file = [&](Status st) {
    return st.ok() ? st : Status(st.code(), file + ": " + st.message());
  };
  DSE_RETURN_IF_ERROR(with_file(decode_regions(a, regions_)));
  DSE_RETURN_IF_ERROR(with_file(decode_slots(a, regions_, reader_.segments(), slots_)));
  DSE_RETURN_IF_ERROR(with_file(decode_entry_point(a, "prefill", vocab_size_, slots_, prefill_)));
  DSE_RETURN_IF_ERROR(with_file(decode_entry_point(a, "decode", vocab_size_, slots_, decode_)));
  // A batched decode step runs one row per sequence and reads every row's logits.
  if (max_batch_ > 1) {
    const SlotInfo& logits = slots_[decode_.logits_slot];
    if (decode_.max_tokens != max_batch_ || logits.size / sizeof(float) < max_batch_ * vocab_size_) {
      return Status(StatusCode::corrupt_data,
                    file + ": max_batch is " + std::to_string(max_batch_) + " but the decode entry point takes " +
                        std::to_string(decode_.max_tokens) + " tokens and returns " +
                        std::to_string(logits.size / sizeof(float)) + " logits, expected " +
                        std::to_string(max_batch_) + " and " + std::to_string(max_batch_ * vocab_size_) +
                        "; recompile the model with dsc");
    }
  }

  Result<tokenizer::TokenizerData> data = tokenizer_data_from_artifact(a.tokenizer(), vocab_size_);
  if (!data.ok()) return with_file(data.status());
  Result<tokenizer::Tokenizer> tok = tokenizer::Tokenizer::create(std::move(data).value());
  if (!tok.ok()) {
    return Status(StatusCode::corrupt_data,
                  file + ": the artifact's tokenizer tables are not usable: " + tok.status().message());
  }
  tokenizer_ = std::make_unique<tokenizer::Tokenizer>(std::move(tok).value());
  eos_id_ = int32_t(tokenizer_->data().eos_id);
  std::string_view suffix = tokenizer_->data().chat.assistant_suffix;
  while (!suffix.empty() && std::isspace(static_cast<unsigned char>(suffix.back()))) suffix.remove_suffix(1);
  while (!suffix.empty() && std::isspace(static_cast<unsigned char>(suffix.front()))) suffix.remove_prefix(1);
  if (!suffix.empty()) {
    if (std::optional<int32_t> id = tokenizer_->token_to_id(suffix); id && tokenizer_->is_special(*id)) {
      end_of_turn_id_ = *id;
    }
  }
  const int32_t ids = tokenizer_->id_count();
  for (int32_t id = 0; id < ids; ++id) max_token_bytes_ = std::max(max_token_bytes_, tokenizer_->token_bytes(id).size());
  return Status::Ok();
}

Status LoadedModel::encode(std::string_view text, bool add_special, std::vector<int32_t>& out) const {
  std::lock_guard<std::mutex> lock(encode_mutex_);
  return tokenizer_->encode(text, add_special, out);
}

}  // namespace dse::runtime
