// The model graph of docs/reference/ARCHITECTURES.md in dsg: a pre-norm decoder whose layers use
// GQA (Llama, Qwen2) or MLA (DeepSeek-V2/V3) attention and a dense or MoE feed-forward network.
// Op order inside a layer is the order of docs/KERNELS.md ("How a decoder layer lowers"): the
// kernel selector keeps program order, so this file fixes the instruction order.
#include "dse/compiler/Frontend/ImportModel.h"

#include <set>

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "dse/compiler/Dsg/Dsg.h"
#include "dse/compiler/Dsg/WeightBuilder.h"
#include "dse/import/rope_table.h"
#include "dse/import/weight_recipe.h"
#include "dse/targets/kernel_abi.h"

using namespace mlir;
using dse::importer::ModelConfig;

namespace dse {
namespace {

// "l<layer>.": the prefix of a layer's op names in the graph.
std::string layer_prefix(int64_t l) { return ("l" + Twine(l) + ".").str(); }

importer::WeightRecipe recipe_of(const dsg::WeightSpec& spec) {
  importer::WeightRecipe r;
  using K = importer::WeightRecipe;
  const std::string& t = spec.transform;
  r.kind = t == "copy" ? K::copy : t == "concat_rows" ? K::concat_rows : t == "row_slice" ? K::row_slice
         : t == "mla_w_uk" ? K::mla_w_uk : t == "mla_w_uv" ? K::mla_w_uv
         : t == "stack_experts" ? K::stack_experts : t == "stack_experts_concat" ? K::stack_experts_concat
         : K::rope_table;
  r.sources = spec.sources;
  r.row_begin = spec.row_begin;
  r.row_end = spec.row_end;
  r.max_pos = spec.max_pos;
  return r;
}

class GraphBuilder {
 public:
  GraphBuilder(MLIRContext& ctx, const ModelConfig& c, const ImportOptions& o,
               const importer::SafetensorsArchive* archive)
      : ctx_(ctx), b_(&ctx), c_(c), o_(o), archive_(archive),
        file_(FileLineColLoc::get(&ctx, o.source_name.empty() ? "config.json" : o.source_name, 0, 0)) {}

  LogicalResult build_function(ModuleOp module, StringRef name, int64_t tokens);

 private:
  RankedTensorType f32(ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, b_.getF32Type()); }
  Location loc(const Twine& name) { return NameLoc::get(b_.getStringAttr(name), file_); }

  // A weight; with an archive, its recipe is checked against the checkpoint once per name.
  FailureOr<Value> weight(dsg::WeightSpec spec, ArrayRef<int64_t> shape);
  FailureOr<Value> copy(const std::string& name, StringRef role, ArrayRef<int64_t> shape) {
    dsg::WeightSpec s;
    s.name = name;
    s.role = role.str();
    s.transform = "copy";
    s.sources = {name};
    return weight(s, shape);
  }
  Value rms_norm(Value x, Value w, double eps, const Twine& name) {
    return dsg::RmsNormOp::create(b_, loc(name), x.getType(), x, w, b_.getF64FloatAttr(eps));
  }
  Value linear(Value x, Value w, Value bias, const Twine& name) {
    auto xt = cast<RankedTensorType>(x.getType());
    auto wt = cast<RankedTensorType>(w.getType());
    return dsg::LinearOp::create(b_, loc(name), f32({xt.getDimSize(0), wt.getDimSize(0)}), x, w, bias);
  }
  Value add(Value a, Value c, const Twine& name) {
    return dsg::AddOp::create(b_, loc(name), a.getType(), a, c);
  }
  Value rope(Value x, int64_t heads, int64_t head_dim, int64_t offset, int64_t dim, bool interleaved) {
    return dsg::RopeOp::create(b_, x.getLoc(), x.getType(), x, rope_table_, b_.getI64IntegerAttr(heads),
                               b_.getI64IntegerAttr(head_dim), b_.getI64IntegerAttr(offset),
                               b_.getI64IntegerAttr(dim), b_.getBoolAttr(interleaved));
  }
  // `groups`: how many scale groups a row of a quantized cache has (one per KV head for GQA
  // caches, 1 for MLA's latent and rope caches); recorded only when the cache is quantized.
  Value kv_cache(const std::string& name, int64_t width, int64_t groups) {
    Type element = b_.getF32Type();
    switch (o_.kv_dtype) {
      case KvCacheDType::f32: break;
      case KvCacheDType::f16: element = b_.getF16Type(); break;
      case KvCacheDType::i8: element = b_.getIntegerType(8); break;
      case KvCacheDType::fp8e4m3: element = b_.getType<Float8E4M3FNType>(); break;
    }
    auto type = RankedTensorType::get({o_.max_batch * o_.max_seq_len, width}, element);
    auto op = dsg::KvCacheOp::create(b_, loc(name), type, b_.getStringAttr(name));
    if (o_.kv_dtype == KvCacheDType::i8 || o_.kv_dtype == KvCacheDType::fp8e4m3)
      op.setScaleGroups(groups);
    return op;
  }
  Value kv_store(Value src, Value cache) {
    return dsg::KvStoreOp::create(b_, src.getLoc(), cache.getType(), src, cache);
  }

  FailureOr<Value> attention_gqa(Value h, int64_t layer, int64_t T);
  FailureOr<Value> attention_mla(Value h, int64_t layer, int64_t T);
  FailureOr<Value> mlp(Value h, const std::string& prefix, int64_t width, const Twine& name);
  FailureOr<Value> moe(Value h, int64_t layer, int64_t T);

  MLIRContext& ctx_;
  OpBuilder b_;
  const ModelConfig& c_;
  const ImportOptions& o_;
  const importer::SafetensorsArchive* archive_;
  Location file_;
  Value rope_table_;
  std::set<std::string> checked_;
};

FailureOr<Value> GraphBuilder::weight(dsg::WeightSpec spec, ArrayRef<int64_t> shape) {
  if (archive_ && spec.transform != "rope_table" && checked_.insert(spec.name).second) {
    Result<std::vector<int64_t>> actual = importer::recipe_shape(recipe_of(spec), *archive_, c_);
    if (!actual.ok())
      return emitError(loc(spec.name)) << actual.status().message();
    if (ArrayRef<int64_t>(*actual) != shape) {
      auto d = emitError(loc(spec.name)) << "weight " << spec.name << " should be [";
      llvm::interleaveComma(shape, d);
      d << "] for this config.json, the checkpoint gives [";
      llvm::interleaveComma(*actual, d);
      d << "]: the config and the safetensors files do not belong together";
      return failure();
    }
  }
  return Value(dsg::create_weight(b_, loc(spec.name), f32(shape), spec));
}

FailureOr<Value> GraphBuilder::attention_gqa(Value h, int64_t l, int64_t T) {
  const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
  const std::string n = layer_prefix(l);
  const int64_t H = c_.hidden_size, Hq = c_.num_heads, Hkv = c_.num_kv_heads, D = c_.head_dim;
  auto qw = copy(p + "q_proj.weight", "linear", {Hq * D, H});
  auto kw = copy(p + "k_proj.weight", "linear", {Hkv * D, H});
  auto vw = copy(p + "v_proj.weight", "linear", {Hkv * D, H});
  if (failed(qw) || failed(kw) || failed(vw)) return failure();
  Value qb, kb, vb;
  if (c_.attention_bias) {
    auto q = copy(p + "q_proj.bias", "bias", {Hq * D});
    auto k = copy(p + "k_proj.bias", "bias", {Hkv * D});
    auto v = copy(p + "v_proj.bias", "bias", {Hkv * D});
    if (failed(q) || failed(k) || failed(v)) return failure();
    qb = *q, kb = *k, vb = *v;
  }
  Value q = linear(h, *qw, qb, n + "q");
  Value k = linear(h, *kw, kb, n + "k");
  Value v = linear(h, *vw, vb, n + "v");
  const int64_t rd = importer::rope_dim(c_), ro = importer::rope_offset(c_);
  const bool inter = importer::rope_interleaved(c_);
  q = rope(q, Hq, D, ro, rd, inter);
  k = rope(k, Hkv, D, ro, rd, inter);
  Value kc = kv_store(k, kv_cache("layers." + std::to_string(l) + ".k_cache", Hkv * D, Hkv));
  Value vc = kv_store(v, kv_cache("layers." + std::to_string(l) + ".v_cache", Hkv * D, Hkv));
  Value att = dsg::AttentionOp::create(
      b_, loc(n + "attn"), f32({T, Hq * D}), q, kc, vc, b_.getI64IntegerAttr(Hq),
      b_.getI64IntegerAttr(Hkv), b_.getI64IntegerAttr(D), b_.getI64IntegerAttr(D),
      b_.getF32FloatAttr(float(importer::attention_softmax_scale(c_))));
  auto ow = copy(p + "o_proj.weight", "linear", {H, Hq * D});
  if (failed(ow)) return failure();
  return linear(att, *ow, Value(), n + "o");
}

FailureOr<Value> GraphBuilder::attention_mla(Value h, int64_t l, int64_t T) {
  const std::string p = "model.layers." + std::to_string(l) + ".self_attn.";
  const std::string n = layer_prefix(l);
  const int64_t H = c_.hidden_size, Hh = c_.num_heads, dn = c_.qk_nope_head_dim,
                dr = c_.qk_rope_head_dim, dv = c_.v_head_dim, C = c_.kv_lora_rank, dq = dn + dr;
  constexpr double kMlaNormEps = 1e-6;  // q_a_layernorm / kv_a_layernorm: fixed, not from config
  Value q;
  if (c_.q_lora_rank > 0) {
    auto qa = copy(p + "q_a_proj.weight", "linear", {c_.q_lora_rank, H});
    auto qn = copy(p + "q_a_layernorm.weight", "norm", {c_.q_lora_rank});
    auto qbw = copy(p + "q_b_proj.weight", "linear", {Hh * dq, c_.q_lora_rank});
    if (failed(qa) || failed(qn) || failed(qbw)) return failure();
    Value cq = rms_norm(linear(h, *qa, Value(), n + "q_a"), *qn, kMlaNormEps, n + "q_a_norm");
    q = linear(cq, *qbw, Value(), n + "q");
  } else {
    auto qw = copy(p + "q_proj.weight", "linear", {Hh * dq, H});
    if (failed(qw)) return failure();
    q = linear(h, *qw, Value(), n + "q");
  }
  q = rope(q, Hh, dq, dn, dr, importer::rope_interleaved(c_));

  const std::string kv_a = p + "kv_a_proj_with_mqa.weight";
  dsg::WeightSpec lat_spec{p + "kv_a_proj_with_mqa.latent", "linear", "row_slice", {kv_a}, 0, C};
  dsg::WeightSpec pe_spec{p + "kv_a_proj_with_mqa.rope", "linear", "row_slice", {kv_a}, C, C + dr};
  auto lat_w = weight(lat_spec, {C, H});
  auto kv_norm = copy(p + "kv_a_layernorm.weight", "norm", {C});
  auto pe_w = weight(pe_spec, {dr, H});
  if (failed(lat_w) || failed(kv_norm) || failed(pe_w)) return failure();
  Value latent = rms_norm(linear(h, *lat_w, Value(), n + "latent_raw"), *kv_norm, kMlaNormEps, n + "latent");
  Value lc = kv_store(latent, kv_cache("layers." + std::to_string(l) + ".latent_cache", C, 1));
  Value pe = rope(linear(h, *pe_w, Value(), n + "k_pe"), 1, dr, 0, dr, importer::rope_interleaved(c_));
  Value pc = kv_store(pe, kv_cache("layers." + std::to_string(l) + ".pe_cache", dr, 1));

  const std::string kv_b = p + "kv_b_proj.weight";
  auto w_uk = weight(dsg::WeightSpec{p + "w_uk", "mla_absorb", "mla_w_uk", {kv_b}}, {Hh, dn, C});
  auto w_uv = weight(dsg::WeightSpec{p + "w_uv", "mla_absorb", "mla_w_uv", {kv_b}}, {Hh, dv, C});
  if (failed(w_uk) || failed(w_uv)) return failure();
  Value att = dsg::MlaAttentionOp::create(
      b_, loc(n + "attn"), f32({T, Hh * dv}), q, lc, pc, *w_uk, *w_uv, b_.getI64IntegerAttr(Hh),
      b_.getI64IntegerAttr(dn), b_.getI64IntegerAttr(dr), b_.getI64IntegerAttr(C),
      b_.getI64IntegerAttr(dv), b_.getF32FloatAttr(float(importer::attention_softmax_scale(c_))));
  auto ow = copy(p + "o_proj.weight", "linear", {H, Hh * dv});
  if (failed(ow)) return failure();
  return linear(att, *ow, Value(), n + "o");
}

FailureOr<Value> GraphBuilder::mlp(Value h, const std::string& prefix, int64_t width, const Twine& name) {
  const int64_t H = c_.hidden_size;
  auto gw = copy(prefix + "gate_proj.weight", "linear", {width, H});
  auto uw = copy(prefix + "up_proj.weight", "linear", {width, H});
  auto dw = copy(prefix + "down_proj.weight", "linear", {H, width});
  if (failed(gw) || failed(uw) || failed(dw)) return failure();
  Value g = linear(h, *gw, Value(), name + ".gate");
  Value u = linear(h, *uw, Value(), name + ".up");
  Value a = dsg::SwigluOp::create(b_, loc(name + ".act"), g.getType(), g, u);
  return linear(a, *dw, Value(), name + ".down");
}

FailureOr<Value> GraphBuilder::moe(Value h, int64_t l, int64_t T) {
  const std::string p = "model.layers." + std::to_string(l) + ".mlp.";
  const std::string n = layer_prefix(l);
  const int64_t H = c_.hidden_size, E = c_.n_routed_experts, I = c_.moe_intermediate_size,
                k = c_.num_experts_per_tok;
  auto router = copy(p + "gate.weight", "router", {E, H});
  if (failed(router)) return failure();
  Value logits = linear(h, *router, Value(), n + "router");
  Value bias;
  if (c_.has_e_score_correction_bias) {
    auto bw = copy(p + "gate.e_score_correction_bias", "router", {E});
    if (failed(bw)) return failure();
    bias = *bw;
  }
  const int64_t method = c_.topk_method == importer::TopkMethod::greedy ? 0
                         : c_.topk_method == importer::TopkMethod::group_limited_greedy ? 1 : 2;
  auto route = dsg::MoeRouteOp::create(
      b_, loc(n + "route"), RankedTensorType::get({T, k}, b_.getI32Type()), f32({T, k}), logits,
      bias, b_.getI64IntegerAttr(k), b_.getI64IntegerAttr(c_.n_group),
      b_.getI64IntegerAttr(c_.topk_group),
      b_.getI64IntegerAttr(c_.scoring_func == importer::ScoringFunc::sigmoid ? 1 : 0),
      b_.getI64IntegerAttr(method), b_.getBoolAttr(c_.norm_topk_prob),
      b_.getF32FloatAttr(float(c_.routed_scaling_factor)));
  auto experts = [&](const char* proj, ArrayRef<int64_t> shape) {
    dsg::WeightSpec s{p + "experts." + proj, "expert", "stack_experts", {}};
    for (int64_t e = 0; e < E; ++e)
      s.sources.push_back(p + "experts." + std::to_string(e) + "." + proj + ".weight");
    return weight(s, shape);
  };
  auto gate = experts("gate_proj", {E, I, H});
  auto up = experts("up_proj", {E, I, H});
  auto down = experts("down_proj", {E, H, I});
  if (failed(gate) || failed(up) || failed(down)) return failure();
  Value y = dsg::MoeExpertsOp::create(b_, loc(n + "experts"), f32({T, H}), h, route.getIds(),
                                      route.getWeights(), *gate, *up, *down);
  if (c_.n_shared_experts > 0) {
    auto shared = mlp(h, p + "shared_experts.", c_.n_shared_experts * I, n + "shared");
    if (failed(shared)) return failure();
    y = add(y, *shared, n + "moe_out");
  }
  return y;
}

LogicalResult GraphBuilder::build_function(ModuleOp module, StringRef name, int64_t T) {
  b_.setInsertionPointToEnd(module.getBody());
  const int64_t H = c_.hidden_size, V = c_.vocab_size;
  // Prefill needs the logits of the chunk's last token only; decode those of every row (one per
  // sequence of the batch).
  const bool all_rows = name == "decode";
  auto type = b_.getFunctionType({RankedTensorType::get({T}, b_.getI32Type())}, {f32({all_rows ? T : 1, V})});
  auto func = func::FuncOp::create(b_, loc(name), name, type);
  Block* body = func.addEntryBlock();
  b_.setInsertionPointToStart(body);

  auto emb = copy("model.embed_tokens.weight", "embed", {V, H});
  if (failed(emb)) return failure();
  dsg::WeightSpec rope_spec{"rope_table", "rope_table", "rope_table", {}};
  rope_spec.max_pos = o_.max_seq_len;
  auto rope_w = weight(rope_spec, {o_.max_seq_len, importer::rope_dim(c_)});
  if (failed(rope_w)) return failure();
  rope_table_ = *rope_w;
  Value x = dsg::EmbedOp::create(b_, loc("embed"), f32({T, H}), body->getArgument(0), *emb);

  const bool mla = importer::uses_mla(c_);
  for (int64_t l = 0; l < c_.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    const std::string n = layer_prefix(l);
    auto in_norm = copy(p + "input_layernorm.weight", "norm", {H});
    if (failed(in_norm)) return failure();
    Value h = rms_norm(x, *in_norm, c_.rms_norm_eps, n + "attn_norm");
    auto att = mla ? attention_mla(h, l, T) : attention_gqa(h, l, T);
    if (failed(att)) return failure();
    x = add(x, *att, n + "attn_residual");
    auto post_norm = copy(p + "post_attention_layernorm.weight", "norm", {H});
    if (failed(post_norm)) return failure();
    Value h2 = rms_norm(x, *post_norm, c_.rms_norm_eps, n + "mlp_norm");
    auto ffn = importer::is_moe_layer(c_, l) ? moe(h2, l, T)
                                             : mlp(h2, p + "mlp.", c_.intermediate_size, n + "mlp");
    if (failed(ffn)) return failure();
    x = add(x, *ffn, n + "mlp_residual");
  }
  Value last = all_rows ? x : dsg::LastRowOp::create(b_, loc("last_row"), f32({1, H}), x).getResult();
  auto final_norm = copy("model.norm.weight", "norm", {H});
  if (failed(final_norm)) return failure();
  Value hf = rms_norm(last, *final_norm, c_.rms_norm_eps, "final_norm");
  dsg::WeightSpec head{"lm_head.weight", "lm_head", "copy",
                       {c_.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight"}};
  auto head_w = weight(head, {V, H});
  if (failed(head_w)) return failure();
  Value logits = dsg::LogitsOp::create(b_, loc("logits"), f32({all_rows ? T : 1, V}), hf, *head_w);
  func::ReturnOp::create(b_, loc("return"), logits);
  return success();
}

}  // namespace

FailureOr<OwningOpRef<ModuleOp>> import_model(MLIRContext& context, const ModelConfig& config,
                                              const ImportOptions& options,
                                              const importer::SafetensorsArchive* archive) {
  context.loadDialect<dsg::DsgDialect, func::FuncDialect>();
  Location file = FileLineColLoc::get(&context, options.source_name, 0, 0);
  if (options.max_seq_len < 1 || options.prefill_chunk < 1)
    return emitError(file) << "--max-seq-len and --prefill-chunk must be at least 1, found "
                           << options.max_seq_len << " and " << options.prefill_chunk;
  if (options.max_batch < 1 || options.max_batch > kMaxBatch)
    return emitError(file) << "--max-batch must be 1 to " << kMaxBatch << ", found " << options.max_batch;
  if (Status s = importer::check_rope_supported(config, options.max_seq_len); !s.ok())
    return emitError(file) << s.message();
  if (config.max_position_embeddings > 0 && options.max_seq_len > config.max_position_embeddings)
    emitWarning(file) << "--max-seq-len " << options.max_seq_len
                      << " is longer than max_position_embeddings " << config.max_position_embeddings
                      << " of config.json: the model was not trained for positions past it";
  OwningOpRef<ModuleOp> module = ModuleOp::create(file);
  GraphBuilder builder(context, config, options, archive);
  const int64_t chunk = std::min(options.prefill_chunk, options.max_seq_len);
  if (failed(builder.build_function(*module, "prefill", chunk)) ||
      failed(builder.build_function(*module, "decode", options.max_batch)))
    return failure();
  return module;
}

}  // namespace dse
