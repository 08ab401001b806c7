// The artifact emitter. The metadata is built twice: once with placeholder segments to learn its
// size (the writer reserves that much before the first segment), then with the real segment
// table once every weight is written.
#include "dse/compiler/Emit/ArtifactEmitter.h"

#include <cstring>

#include <flatbuffers/flatbuffers.h>

#include "llvm/ADT/StringMap.h"

#include "dse/compiler/Dsx/Dsx.h"
#include "dse/compiler/Emit/TokenizerTable.h"
#include "dse/formats/artifact_writer.h"
#include "dse/formats/checksum.h"
#include "dse/formats/segment_table.h"
#include "dse/import/rope_table.h"
#include "dse/import/weight_materializer.h"

using namespace mlir;

namespace dse {

fb::DType dtype_code(StringRef d) {
  if (d == "f16") return fb::DType::F16;
  if (d == "bf16") return fb::DType::BF16;
  if (d == "i8") return fb::DType::I8;
  if (d == "i4") return fb::DType::I4;
  if (d == "fp8e4m3") return fb::DType::FP8E4M3;
  if (d == "i32") return fb::DType::I32;
  return fb::DType::F32;
}

namespace {

fb::RegionKind region_code(StringRef r) {
  return r == "weights" ? fb::RegionKind::Weights
         : r == "kv_cache" ? fb::RegionKind::KvCache : fb::RegionKind::Arena;
}

std::optional<importer::WeightRecipe> recipe_of(DictionaryAttr d) {
  importer::WeightRecipe r;
  using K = importer::WeightRecipe;
  StringRef t = cast<StringAttr>(d.get("transform")).getValue();
  if (t == "copy") r.kind = K::copy;
  else if (t == "concat_rows") r.kind = K::concat_rows;
  else if (t == "row_slice") r.kind = K::row_slice;
  else if (t == "mla_w_uk") r.kind = K::mla_w_uk;
  else if (t == "mla_w_uv") r.kind = K::mla_w_uv;
  else if (t == "stack_experts") r.kind = K::stack_experts;
  else if (t == "stack_experts_concat") r.kind = K::stack_experts_concat;
  else if (t == "rope_table") r.kind = K::rope_table;
  else return std::nullopt;
  for (Attribute s : cast<ArrayAttr>(d.get("sources"))) r.sources.push_back(cast<StringAttr>(s).str());
  if (auto a = d.getAs<IntegerAttr>("row_begin")) r.row_begin = a.getInt();
  if (auto a = d.getAs<IntegerAttr>("row_end")) r.row_end = a.getInt();
  if (auto a = d.getAs<IntegerAttr>("max_pos")) r.max_pos = a.getInt();
  return r;
}

std::optional<importer::WeightFormat> format_of(StringRef f) {
  using F = importer::WeightFormat;
  if (f == "f32") return F::f32;
  if (f == "f16") return F::f16;
  if (f == "bf16") return F::bf16;
  if (f == "w8") return F::w8;
  if (f == "w4") return F::w4;
  if (f == "fp8") return F::fp8;
  return std::nullopt;
}

// What the module holds, in the order the metadata lists it.
struct Plan {
  std::vector<dsx::SlotOp> slots;
  llvm::StringMap<uint32_t> slot_index;
  std::vector<dsx::RegionOp> regions;
  std::vector<dsx::EntryOp> entries;
  // Weight slots that get segments, in segment order; a quantized weight's scales come next.
  std::vector<dsx::SlotOp> weights;
  llvm::StringMap<int64_t> segment_of;  // slot name -> segment index
  size_t segment_count = 0;
};

Plan read_plan(ModuleOp module) {
  Plan p;
  llvm::StringMap<std::string> scales_for;
  for (auto slot : module.getOps<dsx::SlotOp>()) {
    p.slot_index[slot.getSymName()] = uint32_t(p.slots.size());
    p.slots.push_back(slot);
    if (auto of = slot.getScalesOf()) scales_for[*of] = slot.getSymName().str();
  }
  for (auto r : module.getOps<dsx::RegionOp>()) p.regions.push_back(r);
  for (auto e : module.getOps<dsx::EntryOp>()) p.entries.push_back(e);
  for (auto slot : p.slots) {
    if (!slot.getRecipe()) continue;
    p.weights.push_back(slot);
    p.segment_of[slot.getSymName()] = int64_t(p.segment_count++);
    auto it = scales_for.find(slot.getSymName());
    if (it != scales_for.end()) p.segment_of[it->second] = int64_t(p.segment_count++);
  }
  return p;
}

std::vector<uint8_t> build_metadata(const Plan& p, const EmitInputs& in,
                                    std::span<const formats::SegmentInfo> segments) {
  flatbuffers::FlatBufferBuilder fbb(1 << 20);
  fbb.ForceDefaults(true);
  const importer::ModelConfig& c = *in.config;

  auto producer = fbb.CreateString("dsc 0.1.0 (MLIR 22.1)");
  std::vector<std::string> features;
  if (in.precision == "fp8" && in.target->backend != targets::Backend::cpu) features.push_back("fp8");
  auto target = fb::CreateTargetInfo(fbb, fbb.CreateString(std::string(in.target->name)),
                                     fbb.CreateString(std::string(targets::backend_name(in.target->backend))),
                                     fbb.CreateVectorOfStrings(features));
  const importer::RopeScalingConfig& rs = c.rope_scaling;
  auto rope = fb::CreateRopeScaling(
      fbb, fbb.CreateString(rs.type == importer::RopeScalingType::none ? "" : importer::rope_scaling_type_name(rs.type)),
      rs.factor, uint64_t(rs.original_max_position_embeddings), rs.low_freq_factor,
      rs.high_freq_factor, rs.beta_fast, rs.beta_slow, rs.mscale, rs.mscale_all_dim);
  auto family = fbb.CreateString(importer::model_family_name(c.family));
  auto arch = fbb.CreateString(c.architecture);
  auto wp = fbb.CreateString(in.precision);
  auto kp = fbb.CreateString(in.kv_precision);
  auto cj = fbb.CreateString(c.raw_json);
  auto config = fb::CreateModelConfig(
      fbb, family, arch, c.vocab_size, c.hidden_size, c.num_layers, c.num_heads, c.num_kv_heads,
      c.head_dim, c.intermediate_size, in.max_seq_len, in.max_batch, in.prefill_chunk,
      c.rms_norm_eps, c.rope_theta, rope, c.q_lora_rank, c.kv_lora_rank, c.qk_nope_head_dim,
      c.qk_rope_head_dim, c.v_head_dim, c.n_routed_experts, c.n_shared_experts,
      c.num_experts_per_tok, c.moe_intermediate_size, c.first_k_dense_replace, wp, kp, cj);
  flatbuffers::Offset<fb::Tokenizer> tok;
  if (in.tokenizer) tok = build_tokenizer_table(fbb, *in.tokenizer);

  std::vector<flatbuffers::Offset<fb::Region>> regions;
  for (auto r : p.regions)
    regions.push_back(fb::CreateRegion(fbb, region_code(r.getKind()), r.getSize(), r.getAlignment()));
  auto regions_vec = fbb.CreateVector(regions);

  std::vector<flatbuffers::Offset<fb::Slot>> slots;
  for (auto s : p.slots) {
    auto name = fbb.CreateString(s.getSymName().str());
    std::vector<int64_t> shape(s.getShape().begin(), s.getShape().end());
    auto shape_vec = fbb.CreateVector(shape);
    auto seg = p.segment_of.find(s.getSymName());
    slots.push_back(fb::CreateSlot(fbb, name, region_code(s.getRegion()), s.getOffset(),
                                   s.getSize(), dtype_code(s.getDtype()), shape_vec,
                                   seg == p.segment_of.end() ? -1 : seg->second,
                                   int32_t(s.getGroupSize())));
  }
  auto slots_vec = fbb.CreateVector(slots);

  std::vector<flatbuffers::Offset<fb::EntryPoint>> entries;
  for (auto e : p.entries) {
    std::vector<flatbuffers::Offset<fb::Instruction>> instructions;
    for (auto call : e.getBody().front().getOps<dsx::CallOp>()) {
      std::vector<uint32_t> operands;
      for (Attribute a : call.getOperands())
        operands.push_back(p.slot_index.lookup(cast<FlatSymbolRefAttr>(a).getValue()));
      std::vector<int64_t> ip(call.getIparams().begin(), call.getIparams().end());
      std::vector<float> fp(call.getFparams().begin(), call.getFparams().end());
      auto kernel = fbb.CreateString(call.getKernel().str());
      auto ops = fbb.CreateVector(operands);
      auto ipv = fbb.CreateVector(ip);
      auto fpv = fbb.CreateVector(fp);
      instructions.push_back(fb::CreateInstruction(fbb, kernel, ops, ipv, fpv));
    }
    auto name = fbb.CreateString(e.getSymName().str());
    auto inst = fbb.CreateVector(instructions);
    entries.push_back(fb::CreateEntryPoint(fbb, name, e.getMaxTokens(),
                                           p.slot_index.lookup(e.getTokens()),
                                           p.slot_index.lookup(e.getLogits()), inst));
  }
  auto entries_vec = fbb.CreateVector(entries);
  auto segments_vec = formats::build_segment_table(fbb, segments);
  auto report = fbb.CreateString(in.report_json);
  // The checkpoint's headers (the archive's fingerprint) and config.json together identify
  // the source model without reading a weight.
  std::string identity(8, '\0');
  uint64_t archive_fp = in.archive ? in.archive->fingerprint() : 0;
  std::memcpy(identity.data(), &archive_fp, 8);
  identity += c.raw_json;
  uint64_t fingerprint = formats::xxhash64(std::span<const uint8_t>(
      reinterpret_cast<const uint8_t*>(identity.data()), identity.size()));
  auto root = fb::CreateArtifact(fbb, producer, fingerprint, target, config, tok, regions_vec,
                                 slots_vec, entries_vec, segments_vec, report);
  fbb.Finish(root, fb::ArtifactIdentifier());
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

// Adapts the writer's one-open-segment API to the materializer's two sinks: the data segment is
// opened on its first bytes and closed when the scales start (the materializer appends all data
// before any scale) or when the weight is done.
class SegmentStream {
 public:
  SegmentStream(formats::ArtifactWriter& w, fb::Codec codec, int level)
      : writer_(w), codec_(codec), level_(level) {}
  Status append(std::span<const std::byte> bytes, bool scales) {
    if (open_ && open_scales_ != scales) DSE_RETURN_IF_ERROR(close());
    if (!open_) {
      DSE_RETURN_IF_ERROR(writer_.begin_segment(codec_, level_));
      open_ = true;
      open_scales_ = scales;
    }
    return writer_.append(bytes);
  }
  Status close() {
    if (!open_) return Status::Ok();
    open_ = false;
    Result<formats::SegmentInfo> info = writer_.end_segment();
    return info.ok() ? Status::Ok() : info.status();
  }

 private:
  formats::ArtifactWriter& writer_;
  fb::Codec codec_;
  int level_;
  bool open_ = false;
  bool open_scales_ = false;
};

class StreamSink final : public importer::SegmentSink {
 public:
  StreamSink(SegmentStream& stream, bool scales) : stream_(stream), scales_(scales) {}
  Status append(std::span<const std::byte> bytes) override { return stream_.append(bytes, scales_); }

 private:
  SegmentStream& stream_;
  bool scales_;
};

}  // namespace

LogicalResult emit_artifact(ModuleOp module, const EmitInputs& in) {
  if (!in.config || !in.archive || !in.target)
    return emitError(module.getLoc()) << "internal: the emitter needs a config, a checkpoint and a target";
  Plan plan = read_plan(module);
  if (plan.regions.size() != 3 || plan.entries.empty())
    return emitError(module.getLoc()) << "the module is not planned (run dse-plan-memory first)";

  std::vector<formats::SegmentInfo> placeholders = formats::placeholder_segments(plan.segment_count);
  std::vector<uint8_t> sizing = build_metadata(plan, in, placeholders);
  Result<formats::ArtifactWriter> writer = formats::ArtifactWriter::create(in.output, sizing.size() + 4096);
  if (!writer.ok())
    return emitError(module.getLoc()) << "cannot write " << in.output.string() << ": "
                                      << writer.status().message();
  SegmentStream stream(*writer, in.codec, in.codec_level);
  StreamSink data(stream, false), scales(stream, true);
  int index = 0;
  for (auto slot : plan.weights) {
    DictionaryAttr d = *slot.getRecipe();
    std::optional<importer::WeightRecipe> recipe = recipe_of(d);
    std::optional<importer::WeightFormat> format = format_of(cast<StringAttr>(d.get("format")).getValue());
    if (!recipe || !format)
      return slot.emitOpError() << "has a recipe the importer does not know: " << d;
    std::string name = slot.getSymName().str();
    importer::ProgressFn progress;
    if (in.progress)
      progress = [&, count = int(plan.weights.size())](int64_t done, int64_t total) {
        in.progress(name, index, count, done, total);
        return true;
      };
    Status s = importer::materialize_weight(*in.archive, *in.config, *recipe, *format,
                                            int(slot.getGroupSize()), data, &scales, progress);
    if (s.ok()) s = stream.close();
    if (!s.ok()) {
      writer->abort();
      return slot.emitOpError() << "writing weight " << name << ": " << s.message();
    }
    ++index;
  }
  if (writer->segments().size() != plan.segment_count) {
    writer->abort();
    return emitError(module.getLoc()) << "internal: wrote " << writer->segments().size()
                                      << " segments, the plan has " << plan.segment_count;
  }
  // Every segment must fill its slot exactly: the runtime copies raw_size bytes into it.
  for (auto slot : plan.slots) {
    auto seg = plan.segment_of.find(slot.getSymName());
    if (seg == plan.segment_of.end()) continue;
    uint64_t raw = writer->segments()[size_t(seg->second)].raw_size;
    if (raw != slot.getSize()) {
      writer->abort();
      return slot.emitOpError() << "internal: the importer wrote " << raw << " bytes for a slot of "
                                << slot.getSize() << " bytes";
    }
  }
  std::vector<uint8_t> metadata = build_metadata(plan, in, writer->segments());
  if (Status s = writer->finish(metadata); !s.ok())
    return emitError(module.getLoc()) << "finishing " << in.output.string() << ": " << s.message();
  return success();
}

}  // namespace dse
