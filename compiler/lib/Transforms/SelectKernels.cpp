// dse-select-kernels: lowers the dsg functions to dsx entries of kernel calls, following
// docs/KERNELS.md ("How a decoder layer lowers"). Every SSA value becomes a slot: activations
// in the arena, caches in kv_cache, weights (and their scales) in weights. Op order is kept, so
// the instruction list is the program order of the graph.
#include "dse/compiler/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringSet.h"

#include "dse/import/weight_recipe.h"

namespace dse {
#define GEN_PASS_DEF_SELECTKERNELS
#include "dse/compiler/Transforms/Passes.h.inc"
}  // namespace dse

using namespace mlir;
using namespace dse::dsg;
namespace dsx = dse::dsx;

namespace {

std::optional<dse::importer::WeightFormat> parse_format(StringRef f) {
  using F = dse::importer::WeightFormat;
  if (f == "f32") return F::f32;
  if (f == "f16") return F::f16;
  if (f == "bf16") return F::bf16;
  if (f == "w8") return F::w8;
  if (f == "w4") return F::w4;
  if (f == "fp8") return F::fp8;
  return std::nullopt;
}

const char* dtype_name_of_format(StringRef f) {
  if (f == "w8") return "i8";
  if (f == "w4") return "i4";
  if (f == "fp8") return "fp8e4m3";
  return f == "f16" ? "f16" : f == "bf16" ? "bf16" : "f32";
}

FailureOr<std::pair<std::string, int64_t>> dtype_of(Type t) {
  if (t.isF32()) return std::make_pair(std::string("f32"), int64_t(4));
  if (t.isF16()) return std::make_pair(std::string("f16"), int64_t(2));
  if (t.isBF16()) return std::make_pair(std::string("bf16"), int64_t(2));
  if (t.isInteger(32)) return std::make_pair(std::string("i32"), int64_t(4));
  return failure();
}

// A cache's element type as a slot dtype: f32 and f16, or i8 and fp8e4m3 (quantized, with a scale
// slot; docs/KERNELS.md "Quantized KV caches").
FailureOr<std::pair<std::string, bool>> cache_dtype_of(Type t) {
  if (t.isF32()) return std::make_pair(std::string("f32"), false);
  if (t.isF16()) return std::make_pair(std::string("f16"), false);
  if (t.isInteger(8)) return std::make_pair(std::string("i8"), true);
  if (isa<Float8E4M3FNType>(t)) return std::make_pair(std::string("fp8e4m3"), true);
  return failure();
}

class Lowering {
 public:
  Lowering(ModuleOp module, StringRef target)
      : module_(module), slots_(module.getContext()), target_(target.str()) {}

  LogicalResult lower(func::FuncOp func);

 private:
  // Slot for an activation value produced in the current entry.
  // `hint` names the slot unless the value has a NameLoc (and `use_loc`).
  FailureOr<std::string> activation(Value v, StringRef hint, bool use_loc = true);
  FailureOr<std::string> weight(WeightOp op);
  LogicalResult cache(KvCacheOp op);
  // The operands of a cache in a kernel call: the cache and, when quantized, its scales.
  void cache_operands(Value c, SmallVectorImpl<std::string>& out);
  std::string name_of(Value v) { return names_.lookup(v); }
  void call(Location loc, StringRef kernel, ArrayRef<std::string> operands,
            ArrayRef<int64_t> iparams = {}, ArrayRef<float> fparams = {});
  std::string unique(StringRef base);
  LogicalResult lower_op(Operation* op);
  // The operands of a weight in a kernel call: the weight and, when quantized, its scales.
  void weight_operands(Value w, SmallVectorImpl<std::string>& out);
  StringRef format_of(Value w) {
    auto op = w.getDefiningOp<WeightOp>();
    return op ? op.getFormat() : StringRef("f32");
  }

  ModuleOp module_;
  OpBuilder slots_;                 // inserts slots before the function being lowered, in order
  OpBuilder calls_{module_.getContext()};
  std::string target_;
  std::string entry_;
  llvm::DenseMap<Value, std::string> names_;
  llvm::StringSet<> defined_;
  llvm::StringMap<std::string> scales_of_weight_;
  llvm::StringMap<std::string> scales_of_cache_;
};

std::string Lowering::unique(StringRef base) {
  std::string name = base.str();
  for (int i = 1; defined_.contains(name); ++i) name = (base + "." + Twine(i)).str();
  defined_.insert(name);
  return name;
}

FailureOr<std::string> Lowering::activation(Value v, StringRef hint, bool use_loc) {
  auto type = dyn_cast<RankedTensorType>(v.getType());
  if (!type || !type.hasStaticShape())
    return emitError(v.getLoc()) << "expected a tensor with a static shape, found " << v.getType();
  auto dtype = dtype_of(type.getElementType());
  if (failed(dtype))
    return emitError(v.getLoc()) << "activations are f32 or i32 on this target, found "
                                 << type.getElementType();
  std::string base = entry_ + ".";
  auto loc = dyn_cast<NameLoc>(v.getLoc());
  if (loc && use_loc) {
    base += loc.getName().str();
    // Several results of one op (moe_route): tell them apart by what they hold.
    if (v.getDefiningOp() && v.getDefiningOp()->getNumResults() > 1) base += ("." + hint).str();
  } else {
    base += hint.str();
  }
  std::string name = unique(base);
  dsx::SlotOp::create(slots_, v.getLoc(), slots_.getStringAttr(name),
                      slots_.getStringAttr("arena"), slots_.getStringAttr(dtype->first),
                      slots_.getDenseI64ArrayAttr(type.getShape()),
                      slots_.getI64IntegerAttr(type.getNumElements() * dtype->second),
                      slots_.getI64IntegerAttr(-1), slots_.getI64IntegerAttr(0), DictionaryAttr(),
                      FlatSymbolRefAttr());
  names_[v] = name;
  return name;
}

FailureOr<std::string> Lowering::weight(WeightOp op) {
  std::string name = op.getName().str();
  names_[op.getResult()] = name;
  if (defined_.contains(name)) return name;  // the same weight used by prefill and decode
  auto format = parse_format(op.getFormat());
  if (!format) return op.emitOpError() << "unknown format " << op.getFormat();
  ArrayRef<int64_t> shape = op.getType().getShape();
  int group = int(op.getGroupSize());
  if (dse::Status s = dse::importer::check_weight_format(*format, shape, group); !s.ok())
    return op.emitOpError() << s.message();
  defined_.insert(name);
  SmallVector<NamedAttribute> recipe;
  Builder& b = slots_;
  recipe.push_back(b.getNamedAttr("transform", op.getTransformAttr()));
  recipe.push_back(b.getNamedAttr("sources", op.getSources()));
  recipe.push_back(b.getNamedAttr("format", op.getFormatAttr()));
  recipe.push_back(b.getNamedAttr("role", op.getRoleAttr()));
  if (op.getTransform() == "row_slice") {
    recipe.push_back(b.getNamedAttr("row_begin", op.getRowBeginAttr()));
    recipe.push_back(b.getNamedAttr("row_end", op.getRowEndAttr()));
  }
  if (op.getTransform() == "rope_table")
    recipe.push_back(b.getNamedAttr("max_pos", op.getMaxPosAttr()));
  dsx::SlotOp::create(slots_, op.getLoc(), b.getStringAttr(name), b.getStringAttr("weights"),
                      b.getStringAttr(dtype_name_of_format(op.getFormat())),
                      b.getDenseI64ArrayAttr(shape),
                      b.getI64IntegerAttr(int64_t(dse::importer::weight_bytes(*format, shape, group))),
                      b.getI64IntegerAttr(-1), b.getI64IntegerAttr(group),
                      b.getDictionaryAttr(recipe), FlatSymbolRefAttr());
  if (dse::cpu::has_scale_slot(*format)) {
    std::string scales = unique(name + ".scales");
    SmallVector<int64_t> scale_shape(shape.begin(), shape.end() - 1);
    if (*format == dse::importer::WeightFormat::w4) scale_shape.push_back(shape.back() / group);
    dsx::SlotOp::create(
        slots_, op.getLoc(), b.getStringAttr(scales), b.getStringAttr("weights"),
        b.getStringAttr(*format == dse::importer::WeightFormat::w4 ? "f16" : "f32"),
        b.getDenseI64ArrayAttr(scale_shape),
        b.getI64IntegerAttr(int64_t(dse::importer::scale_bytes(*format, shape, group))),
        b.getI64IntegerAttr(-1), b.getI64IntegerAttr(group), DictionaryAttr(),
        FlatSymbolRefAttr::get(b.getStringAttr(name)));
    scales_of_weight_[name] = scales;
  }
  return name;
}

LogicalResult Lowering::cache(KvCacheOp op) {
  std::string name = op.getName().str();
  names_[op.getResult()] = name;
  if (defined_.contains(name)) return success();
  auto type = dyn_cast<RankedTensorType>(op.getType());
  if (!type || type.getRank() != 2 || !type.hasStaticShape())
    return op.emitOpError() << "expected a static [max_seq_len, width] cache, found " << op.getType();
  auto dtype = cache_dtype_of(type.getElementType());
  if (failed(dtype))
    return op.emitOpError() << "caches are f32, f16, i8 or f8E4M3FN, found " << type.getElementType();
  const int64_t rows = type.getDimSize(0), width = type.getDimSize(1);
  const int64_t groups = int64_t(op.getScaleGroups());
  if (dtype->second && (groups < 1 || width % groups != 0))
    return op.emitOpError() << "scale_groups " << groups << " must be at least 1 and divide the row of "
                            << width << " values";
  defined_.insert(name);
  const int64_t element_bytes = dtype->first == "f32" ? 4 : dtype->first == "f16" ? 2 : 1;
  dsx::SlotOp::create(slots_, op.getLoc(), slots_.getStringAttr(name),
                      slots_.getStringAttr("kv_cache"), slots_.getStringAttr(dtype->first),
                      slots_.getDenseI64ArrayAttr(type.getShape()),
                      slots_.getI64IntegerAttr(rows * width * element_bytes),
                      slots_.getI64IntegerAttr(-1), slots_.getI64IntegerAttr(0), DictionaryAttr(),
                      FlatSymbolRefAttr());
  if (dtype->second) {
    // One f32 scale per (position, group), in the kv_cache region beside the cache.
    std::string scales = unique(name + ".scales");
    dsx::SlotOp::create(slots_, op.getLoc(), slots_.getStringAttr(scales),
                        slots_.getStringAttr("kv_cache"), slots_.getStringAttr("f32"),
                        slots_.getDenseI64ArrayAttr({rows, groups}),
                        slots_.getI64IntegerAttr(rows * groups * 4), slots_.getI64IntegerAttr(-1),
                        slots_.getI64IntegerAttr(0), DictionaryAttr(), FlatSymbolRefAttr());
    scales_of_cache_[name] = scales;
  }
  return success();
}

void Lowering::cache_operands(Value c, SmallVectorImpl<std::string>& out) {
  std::string name = name_of(c);
  out.push_back(name);
  auto it = scales_of_cache_.find(name);
  if (it != scales_of_cache_.end()) out.push_back(it->second);
}

void Lowering::call(Location loc, StringRef kernel, ArrayRef<std::string> operands,
                    ArrayRef<int64_t> iparams, ArrayRef<float> fparams) {
  SmallVector<Attribute> refs;
  for (const std::string& o : operands)
    refs.push_back(FlatSymbolRefAttr::get(calls_.getStringAttr(o)));
  dsx::CallOp::create(calls_, loc, calls_.getStringAttr(kernel), calls_.getArrayAttr(refs),
                      calls_.getDenseI64ArrayAttr(iparams), calls_.getDenseF32ArrayAttr(fparams));
}

void Lowering::weight_operands(Value w, SmallVectorImpl<std::string>& out) {
  std::string name = name_of(w);
  out.push_back(name);
  auto it = scales_of_weight_.find(name);
  if (it != scales_of_weight_.end()) out.push_back(it->second);
}

LogicalResult Lowering::lower_op(Operation* op) {
  Location loc = op->getLoc();
  auto out = [&](Value v, StringRef hint) { return activation(v, hint); };
  if (auto w = dyn_cast<WeightOp>(op)) return failure(failed(weight(w)));
  if (auto c = dyn_cast<KvCacheOp>(op)) return cache(c);
  if (auto s = dyn_cast<KvStoreOp>(op)) {
    SmallVector<std::string> operands{name_of(s.getSrc())};
    cache_operands(s.getCache(), operands);
    call(loc, "kv_store", operands);
    names_[s.getResult()] = name_of(s.getCache());
    return success();
  }
  if (auto e = dyn_cast<EmbedOp>(op)) {
    StringRef f = format_of(e.getTable());
    if (f != "f32" && f != "f16" && f != "bf16")
      return e.emitOpError() << "embedding tables are f32, f16 or bf16 (embed_f32_<w>), found " << f;
    auto y = out(e.getResult(), "embed");
    if (failed(y)) return failure();
    call(loc, ("embed_f32_" + f).str(), {name_of(e.getTokens()), name_of(e.getTable()), *y});
    return success();
  }
  if (auto n = dyn_cast<RmsNormOp>(op)) {
    if (format_of(n.getWeight()) != "f32")
      return n.emitOpError() << "rms_norm_f32 takes an f32 weight, found " << format_of(n.getWeight());
    auto y = out(n.getResult(), "rms_norm");
    if (failed(y)) return failure();
    call(loc, "rms_norm_f32", {name_of(n.getX()), name_of(n.getWeight()), *y}, {},
         {float(n.getEps().convertToDouble())});
    return success();
  }
  if (auto l = dyn_cast<LinearOp>(op)) {
    SmallVector<std::string> operands{name_of(l.getX())};
    weight_operands(l.getWeight(), operands);
    if (l.getBias()) {
      if (format_of(l.getBias()) != "f32")
        return l.emitOpError() << "matmul biases are f32, found " << format_of(l.getBias());
      operands.push_back(name_of(l.getBias()));
    }
    auto y = out(l.getResult(), "linear");
    if (failed(y)) return failure();
    operands.push_back(*y);
    call(loc, ("matmul_f32_" + format_of(l.getWeight())).str(), operands, {l.getBias() ? 1 : 0});
    return success();
  }
  if (auto l = dyn_cast<LogitsOp>(op)) {
    SmallVector<std::string> operands{name_of(l.getX())};
    weight_operands(l.getWeight(), operands);
    auto y = out(l.getResult(), "logits");
    if (failed(y)) return failure();
    operands.push_back(*y);
    call(loc, ("matmul_f32_" + format_of(l.getWeight())).str(), operands, {0});
    return success();
  }
  if (auto r = dyn_cast<RopeOp>(op)) {
    // rope_f32 rotates in place: the result is the input's slot, so the input must have no
    // other reader.
    if (!r.getX().hasOneUse())
      return r.emitOpError() << "rope_f32 works in place; its input has other uses";
    call(loc, "rope_f32", {name_of(r.getX()), name_of(r.getTable())},
         {int64_t(r.getNHeads()), int64_t(r.getHeadDim()), int64_t(r.getRotOffset()), int64_t(r.getRotDim()),
          r.getInterleaved() ? 1 : 0});
    names_[r.getResult()] = name_of(r.getX());
    return success();
  }
  if (auto a = dyn_cast<AttentionOp>(op)) {
    auto y = out(a.getResult(), "attention");
    if (failed(y)) return failure();
    SmallVector<std::string> operands{name_of(a.getQ())};
    cache_operands(a.getKCache(), operands);
    cache_operands(a.getVCache(), operands);
    operands.push_back(*y);
    call(loc, "attention_f32", operands,
         {int64_t(a.getNQHeads()), int64_t(a.getNKvHeads()), int64_t(a.getHeadDim()), int64_t(a.getVHeadDim())},
         {a.getScale().convertToFloat()});
    return success();
  }
  if (auto a = dyn_cast<MlaAttentionOp>(op)) {
    for (Value w : {a.getWUk(), a.getWUv()}) {
      StringRef f = format_of(w);
      if (f != "f32" && f != "f16" && f != "bf16")
        return a.emitOpError() << "mla_attention_f32 takes W_UK/W_UV as f32, f16 or bf16, found " << f;
    }
    auto y = out(a.getResult(), "mla_attention");
    if (failed(y)) return failure();
    SmallVector<std::string> operands{name_of(a.getQ())};
    cache_operands(a.getLatentCache(), operands);
    cache_operands(a.getPeCache(), operands);
    operands.append({name_of(a.getWUk()), name_of(a.getWUv()), *y});
    call(loc, "mla_attention_f32", operands,
         {int64_t(a.getNHeads()), int64_t(a.getNopeDim()), int64_t(a.getRopeDim()), int64_t(a.getKvLoraRank()),
          int64_t(a.getVHeadDim())},
         {a.getScale().convertToFloat()});
    return success();
  }
  if (auto r = dyn_cast<MoeRouteOp>(op)) {
    SmallVector<std::string> operands{name_of(r.getLogits())};
    if (r.getBias()) operands.push_back(name_of(r.getBias()));
    auto ids = out(r.getIds(), "ids");
    if (failed(ids)) return failure();
    auto weights = out(r.getWeights(), "weights");
    if (failed(weights)) return failure();
    operands.push_back(*ids);
    operands.push_back(*weights);
    call(loc, "moe_route_f32", operands,
         {int64_t(r.getTopK()), int64_t(r.getNGroup()), int64_t(r.getTopkGroup()), int64_t(r.getScoring()),
          int64_t(r.getMethod()), r.getNormTopkProb() ? 1 : 0, r.getBias() ? 1 : 0},
         {r.getRoutedScalingFactor().convertToFloat()});
    return success();
  }
  if (auto m = dyn_cast<MoeFfnOp>(op)) {
    StringRef f = format_of(m.getGateUp());
    if (format_of(m.getDown()) != f)
      return m.emitOpError() << "moe_ffn_f32_<w> needs gate_up and down in one format, found " << f
                             << " and " << format_of(m.getDown());
    auto gu = cast<RankedTensorType>(m.getGateUp().getType());
    SmallVector<std::string> operands{name_of(m.getX()), name_of(m.getIds()), name_of(m.getWeights())};
    weight_operands(m.getGateUp(), operands);
    weight_operands(m.getDown(), operands);
    auto y = out(m.getResult(), "moe_ffn");
    if (failed(y)) return failure();
    operands.push_back(*y);
    auto ids = cast<RankedTensorType>(m.getIds().getType());
    call(loc, ("moe_ffn_f32_" + f).str(), operands,
         {gu.getDimSize(0), ids.getDimSize(1), gu.getDimSize(1) / 2, gu.getDimSize(2)});
    return success();
  }
  if (auto s = dyn_cast<SiluMulOp>(op)) {
    auto y = out(s.getResult(), "silu_mul");
    if (failed(y)) return failure();
    call(loc, "silu_mul_f32", {name_of(s.getGateUp()), *y});
    return success();
  }
  if (auto a = dyn_cast<AddOp>(op)) {
    auto y = out(a.getResult(), "add");
    if (failed(y)) return failure();
    call(loc, "add_f32", {name_of(a.getA()), name_of(a.getB()), *y});
    return success();
  }
  if (auto l = dyn_cast<LastRowOp>(op)) {
    auto y = out(l.getResult(), "last_row");
    if (failed(y)) return failure();
    call(loc, "last_row_f32", {name_of(l.getX()), *y});
    return success();
  }
  if (isa<SwigluOp, MoeExpertsOp>(op))
    return op->emitOpError() << "has no kernel on target " << target_
                             << ": the CPU kernels take gate and up fused; run dse-fuse-weights first";
  return op->emitOpError() << "has no kernel on target " << target_;
}

LogicalResult Lowering::lower(func::FuncOp func) {
  entry_ = func.getSymName().str();
  names_.clear();
  slots_.setInsertionPoint(func);
  if (func.getNumArguments() != 1 || func.getNumResults() != 1)
    return func.emitOpError() << "an entry point takes the token ids and returns the logits; found "
                              << func.getNumArguments() << " arguments and " << func.getNumResults()
                              << " results";
  Value tokens = func.getArgument(0);
  auto tokensType = dyn_cast<RankedTensorType>(tokens.getType());
  if (!tokensType || tokensType.getRank() != 1 || !tokensType.getElementType().isInteger(32))
    return func.emitOpError() << "token ids must be tensor<Nxi32>, found " << tokens.getType();
  auto tokensSlot = activation(tokens, "tokens", /*use_loc=*/false);
  if (failed(tokensSlot)) return failure();

  calls_.setInsertionPointToEnd(module_.getBody());
  auto entry = dsx::EntryOp::create(
      calls_, func.getLoc(), calls_.getStringAttr(entry_ + ".entry"),
      calls_.getI64IntegerAttr(tokensType.getDimSize(0)),
      FlatSymbolRefAttr::get(calls_.getStringAttr(*tokensSlot)),
      FlatSymbolRefAttr::get(calls_.getStringAttr(*tokensSlot)));
  entry.getBody().emplaceBlock();
  calls_.setInsertionPointToEnd(&entry.getBody().front());
  for (Operation& op : func.getBody().front()) {
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      entry.setLogitsAttr(FlatSymbolRefAttr::get(calls_.getStringAttr(name_of(ret.getOperand(0)))));
      continue;
    }
    if (failed(lower_op(&op))) return failure();
  }
  func.erase();
  entry.setSymName(entry_);
  return success();
}

struct SelectKernelsPass : dse::impl::SelectKernelsBase<SelectKernelsPass> {
  using SelectKernelsBase::SelectKernelsBase;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Lowering lowering(module, target);
    SmallVector<func::FuncOp> funcs(module.getOps<func::FuncOp>());
    if (funcs.empty()) {
      module.emitError() << "no entry functions to lower (expected func.func @prefill and @decode)";
      return signalPassFailure();
    }
    for (func::FuncOp func : funcs)
      if (failed(lowering.lower(func))) return signalPassFailure();
  }
};

}  // namespace
