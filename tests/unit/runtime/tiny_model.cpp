// Writing the tiny test artifacts (see tiny_model.h).
#include "tiny_model.h"

#include <atomic>
#include <algorithm>
#include <cstring>
#include <random>
#include <unistd.h>

#include "dse/formats/artifact_writer.h"
#include "dse/formats/segment_table.h"

namespace dse::test {

namespace {

uint64_t align64(uint64_t v) { return (v + 63) / 64 * 64; }

struct SlotDef {
  std::string name;
  fb::RegionKind region;
  uint64_t offset;
  uint64_t size;
  fb::DType dtype;
  std::vector<int64_t> shape;
  int64_t segment = -1;
};

struct InstrDef {
  std::string kernel;
  std::vector<uint32_t> operands;
  std::vector<int64_t> iparams;
  std::vector<float> fparams;
};

// GPT-2's bytes_to_unicode: printable bytes map to themselves, the others to U+0100 onwards.
std::string byte_level_char(uint8_t byte) {
  auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
  int code = byte;
  if (!printable(byte)) {
    int n = 0;
    for (int b = 0; b < byte; ++b) n += printable(b) ? 0 : 1;
    code = 256 + n;
  }
  std::string out;
  if (code < 0x80) {
    out += char(code);
  } else {
    out += char(0xC0 | (code >> 6));
    out += char(0x80 | (code & 0x3F));
  }
  return out;
}

std::vector<uint8_t> build_metadata(const TinyModelSpec& spec, const std::vector<formats::SegmentInfo>& segments) {
  const int64_t V = kTinyVocab, H = spec.hidden, S = int64_t(spec.max_seq_len), B = int64_t(spec.max_batch);
  // Both entry points share the activations, so their capacity covers a prefill chunk and a
  // batched decode step.
  const int64_t T = std::max(int64_t(spec.prefill_chunk), B);
  const uint64_t w_bytes = uint64_t(V * H * 4);
  const uint64_t head_off = align64(w_bytes);
  const uint64_t kv_bytes = uint64_t(B * S * H * 4);
  const uint64_t act_bytes = uint64_t(T * H * 4);

  std::vector<SlotDef> slots = {
      {"embed", fb::RegionKind::Weights, 0, w_bytes + uint64_t(spec.embed_size_delta), fb::DType::F32, {V, H}, 0},
      {"lm_head", fb::RegionKind::Weights, head_off, w_bytes, fb::DType::F32, {V, H}, 1},
      {"k_cache", fb::RegionKind::KvCache, 0, kv_bytes, fb::DType::F32, {B * S, H}},
      {"v_cache", fb::RegionKind::KvCache, align64(kv_bytes), kv_bytes, fb::DType::F32, {B * S, H}},
  };
  uint64_t arena = 0;
  auto act = [&](const std::string& name, fb::DType dtype, std::vector<int64_t> shape, uint64_t bytes) {
    slots.push_back({name, fb::RegionKind::Arena, arena, bytes, dtype, std::move(shape)});
    arena += align64(bytes);
    return uint32_t(slots.size() - 1);
  };
  const uint32_t tokens = act("tokens", fb::DType::I32, {T}, uint64_t(T * 4));
  const uint32_t x = act("x", fb::DType::F32, {T, H}, act_bytes);
  const uint32_t attn = act("attn", fb::DType::F32, {T, H}, act_bytes);
  const uint32_t h = act("h", fb::DType::F32, {T, H}, act_bytes);
  const uint32_t last = act("last", fb::DType::F32, {1, H}, uint64_t(H * 4));
  const uint32_t logits = act("logits", fb::DType::F32, {1, V}, uint64_t(V * 4));
  slots[logits].offset += spec.logits_offset_shift;
  // Batched decode returns every row's logits.
  const uint32_t row_logits = B > 1 ? act("row_logits", fb::DType::F32, {T, V}, uint64_t(T * V * 4)) : logits;

  const std::vector<InstrDef> program = {
      {"embed_f32_f32", {tokens, 0, x}, {}, {}},
      {"kv_store", {x, 2}, {}, {}},
      {"kv_store", {x, 3}, {}, {}},
      {"attention_f32", {x, 2, 3, attn}, {1, 1, H, H}, {spec.attention_scale}},
      {"add_f32", {x, attn, h}, {}, {}},
      {"last_row_f32", {h, last}, {}, {}},
      {spec.lm_head_kernel, {last, 1, logits}, {0}, {}},
  };

  flatbuffers::FlatBufferBuilder b(1 << 16);
  b.ForceDefaults(true);

  std::vector<InstrDef> batched = program;
  batched.pop_back();
  batched.back() = {spec.lm_head_kernel, {h, 1, row_logits}, {0}, {}};

  auto entry = [&](const char* name, uint64_t max_tokens, const std::vector<InstrDef>& instructions,
                   uint32_t logits_slot) {
    std::vector<flatbuffers::Offset<fb::Instruction>> ins;
    for (const InstrDef& d : instructions) {
      ins.push_back(fb::CreateInstructionDirect(b, d.kernel.c_str(), &d.operands, &d.iparams, &d.fparams));
    }
    return fb::CreateEntryPointDirect(b, name, max_tokens, tokens, logits_slot, &ins);
  };
  std::vector<flatbuffers::Offset<fb::EntryPoint>> entries = {
      entry("prefill", spec.prefill_chunk, program, logits),
      B > 1 ? entry("decode", uint64_t(B), batched, row_logits) : entry("decode", 1, program, logits)};

  std::vector<flatbuffers::Offset<fb::Slot>> slot_offsets;
  for (const SlotDef& s : slots) {
    slot_offsets.push_back(fb::CreateSlotDirect(b, s.name.c_str(), s.region, s.offset, s.size, s.dtype, &s.shape, s.segment, 0));
  }
  std::vector<flatbuffers::Offset<fb::Region>> regions = {
      fb::CreateRegion(b, fb::RegionKind::Weights, head_off + w_bytes, 64),
      fb::CreateRegion(b, fb::RegionKind::KvCache, align64(kv_bytes) + kv_bytes, 64),
      fb::CreateRegion(b, fb::RegionKind::Arena, arena, 64),
  };

  std::vector<std::string> vocab_strings = {"<s>", "</s>"};
  for (int byte = 0; byte < 256; ++byte) vocab_strings.push_back(byte_level_char(uint8_t(byte)));
  vocab_strings.push_back("ab");
  std::vector<flatbuffers::Offset<flatbuffers::String>> vocab;
  for (const std::string& v : vocab_strings) vocab.push_back(b.CreateString(v));
  std::vector<flatbuffers::Offset<flatbuffers::String>> merges = {b.CreateString("a b")};
  if (!spec.extra_merge.empty()) merges.push_back(b.CreateString(spec.extra_merge));
  std::vector<flatbuffers::Offset<fb::AddedToken>> added = {
      fb::CreateAddedTokenDirect(b, kBos, "<s>", true, false, false, false, false),
      fb::CreateAddedTokenDirect(b, kEos, "</s>", true, false, false, false, false),
  };
  std::vector<flatbuffers::Offset<fb::PreTokenizerStep>> pre = {
      fb::CreatePreTokenizerStepDirect(b, "byte_level", "", "", false, false, false, false)};
  flatbuffers::Offset<fb::ChatFormat> chat = 0;
  if (spec.with_chat) {
    chat = fb::CreateChatFormatDirect(b, "<s>", "", "", "a", "", " ", spec.assistant_suffix.c_str(), "");
  }
  auto tokenizer = fb::CreateTokenizerDirect(b, "bpe", &vocab, &merges, &added, "", &pre, "byte_level", kBos, kEos,
                                             -1, true, false, false, chat);

  auto config = fb::CreateModelConfigDirect(b, "llama", "TinyForTest", uint64_t(V), uint64_t(H), 1, 1, 1, uint64_t(H),
                                            uint64_t(H), spec.max_seq_len, spec.max_batch, spec.prefill_chunk, 1e-6, 10000.0, 0,
                                            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, "fp32", "fp32", "{}");
  auto target = fb::CreateTargetInfoDirect(b, spec.backend == "cpu" ? "cpu" : "sm_90", spec.backend.c_str());
  auto seg_table = formats::build_segment_table(b, segments);
  auto root = fb::CreateArtifact(b, b.CreateString("runtime tests"), 0, target, config, tokenizer,
                                 b.CreateVector(regions), b.CreateVector(slot_offsets), b.CreateVector(entries),
                                 seg_table, b.CreateString("{}"));
  fb::FinishArtifactBuffer(b, root);
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

}  // namespace

std::vector<int32_t> default_successors() {
  std::vector<int32_t> s(size_t(kTinyVocab), kA);
  s[kA] = kB;
  s[kB] = kC;
  s[kC] = kD;
  s[kD] = kE;
  s[kE] = kSpace;
  s[kSpace] = kAB;
  s[kAB] = kA;
  return s;
}

TinyModelSpec successor_model(const std::vector<int32_t>& successor) {
  TinyModelSpec s;
  s.hidden = kTinyVocab;
  s.embed.assign(size_t(kTinyVocab * kTinyVocab), 0.0f);
  s.lm_head.assign(size_t(kTinyVocab * kTinyVocab), 0.0f);
  for (int64_t i = 0; i < kTinyVocab; ++i) {
    s.embed[size_t(i * kTinyVocab + i)] = 1.0f;
    // logits[j] = sum_i lm_head[j, i] h[i]: row successor[i] reads h[i].
    s.lm_head[size_t(successor[size_t(i)] * kTinyVocab + i)] += 10.0f;
  }
  s.attention_scale = 0.0f;
  return s;
}

TinyModelSpec random_model(uint64_t seed) {
  TinyModelSpec s;
  s.hidden = 16;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> n(0.0f, 1.0f);
  s.embed.resize(size_t(kTinyVocab * s.hidden));
  s.lm_head.resize(size_t(kTinyVocab * s.hidden));
  for (float& v : s.embed) v = n(rng);
  for (float& v : s.lm_head) v = n(rng);
  s.attention_scale = 0.25f;
  return s;
}

Status write_tiny_model(const std::filesystem::path& path, const TinyModelSpec& spec) {
  const uint64_t capacity = build_metadata(spec, formats::placeholder_segments(2)).size();
  auto w = formats::ArtifactWriter::create(path, capacity);
  if (!w.ok()) return w.status();
  for (const std::vector<float>* weights : {&spec.embed, &spec.lm_head}) {
    auto seg = w->write_segment({reinterpret_cast<const std::byte*>(weights->data()), weights->size() * 4}, spec.codec, 3);
    if (!seg.ok()) return seg.status();
  }
  const std::vector<uint8_t> metadata = build_metadata(spec, w->segments());
  return w->finish(metadata);
}

TempFile::TempFile(const std::string& stem) {
  static std::atomic<int> counter{0};
  path_ = std::filesystem::temp_directory_path() /
          (stem + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".dse");
}

TempFile::~TempFile() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace dse::test
