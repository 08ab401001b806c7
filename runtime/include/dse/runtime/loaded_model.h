// LoadedModel: an opened, fully validated artifact: the mapping, the decoded slot and entry-point
// tables, the tokenizer and chat format. Read-only after open, shared by every session.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dse/formats/artifact_reader.h"
#include "dse/status.h"
#include "dse/targets/kernel_abi.h"
#include "dse/targets/target_registry.h"
#include "dse/tokenizer/tokenizer.h"

namespace dse::runtime {

inline constexpr size_t kRegionCount = 3;  // fb::RegionKind: Weights, KvCache, Arena

struct RegionInfo {
  bool present = false;
  uint64_t size = 0;       // bytes
  uint64_t alignment = 1;  // bytes, a power of two
};

struct SlotInfo {
  std::string_view name;    // points into the mapping
  fb::RegionKind region = fb::RegionKind::Arena;
  uint64_t offset = 0;      // bytes from the start of the region
  uint64_t size = 0;        // bytes
  DType dtype = DType::f32;
  int32_t rank = 0;
  int64_t shape[kMaxRank] = {0, 0, 0, 0};
  int64_t segment = -1;     // weights: the segment that fills the slot
  int32_t group_size = 0;
};

struct InstructionInfo {
  std::string_view kernel;
  CpuKernelFn fn = nullptr;
  std::span<const uint32_t> operands;  // slot indices, inside the mapping
  std::span<const int64_t> iparams;
  std::span<const float> fparams;
};

struct EntryPointInfo {
  std::string_view name;
  uint64_t max_tokens = 0;
  uint32_t tokens_slot = 0;
  uint32_t logits_slot = 0;
  std::vector<InstructionInfo> instructions;
};

struct OpenOptions {
  bool verify_segment_checksums = true;
};

class LoadedModel {
 public:
  // Maps, verifies and validates the artifact (see validate_program): nothing a kernel could
  // trip over is left for run time. Errors carry the reader's or the validator's message.
  static Result<std::unique_ptr<LoadedModel>> open(const std::filesystem::path& path, const OpenOptions& options);

  const formats::ArtifactReader& reader() const { return reader_; }
  const fb::Artifact& artifact() const { return *reader_.metadata(); }

  // Which backend the artifact was compiled for (TargetInfo.backend): cpu or cuda.
  targets::Backend backend() const { return backend_; }
  uint64_t vocab_size() const { return vocab_size_; }
  uint64_t max_seq_len() const { return max_seq_len_; }
  // Sequences the artifact generates together (dsc --max-batch): KV cache slots, decode rows.
  uint64_t max_batch() const { return max_batch_; }
  const RegionInfo& region(fb::RegionKind kind) const { return regions_[size_t(kind)]; }
  const std::vector<SlotInfo>& slots() const { return slots_; }
  const EntryPointInfo& prefill() const { return prefill_; }
  const EntryPointInfo& decode() const { return decode_; }

  // The tokenizer's const methods (token_bytes, is_special, decode) are safe from any thread;
  // encode() is not, so it goes through this lock.
  const tokenizer::Tokenizer& tokenizer() const { return *tokenizer_; }
  Status encode(std::string_view text, bool add_special, std::vector<int32_t>& out) const;
  // The most bytes one token decodes to.
  size_t max_token_bytes() const { return max_token_bytes_; }
  // Tokens that end a generation: the tokenizer's EOS and, where the chat format closes an
  // assistant turn with another special token (ChatML's "<|im_end|>"), that one. -1: none.
  int32_t eos_id() const { return eos_id_; }
  int32_t end_of_turn_id() const { return end_of_turn_id_; }

  // Strings for dse_model_info, NUL-terminated, owned here.
  struct Strings {
    std::string family, architecture, target, producer, weight_precision;
  };
  const Strings& strings() const { return strings_; }

 private:
  LoadedModel(formats::ArtifactReader reader) : reader_(std::move(reader)) {}
  Status decode_tables();

  formats::ArtifactReader reader_;
  targets::Backend backend_ = targets::Backend::cpu;
  uint64_t vocab_size_ = 0;
  uint64_t max_seq_len_ = 0;
  uint64_t max_batch_ = 1;
  std::array<RegionInfo, kRegionCount> regions_;
  std::vector<SlotInfo> slots_;
  EntryPointInfo prefill_, decode_;
  std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
  mutable std::mutex encode_mutex_;
  size_t max_token_bytes_ = 0;
  int32_t eos_id_ = -1;
  int32_t end_of_turn_id_ = -1;
  Strings strings_;
};

}  // namespace dse::runtime
