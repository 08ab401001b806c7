// The dsg dialect: a model graph with static shapes, weights referenced by recipe, never by data.
#ifndef DSE_DSG_OPS
#define DSE_DSG_OPS

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Dsg_Dialect : Dialect {
  let name = "dsg";
  let summary = "DeepSeek Edge model graph";
  let description = [{
    A decoder-only transformer as two functions, `prefill` (a chunk of tokens) and `decode`
    (one token), on ranked tensors with static shapes. Dim 0 of an activation is the token
    capacity of its function. Weights are `dsg.weight` ops that name a recipe (checkpoint
    tensors plus a transform); the data stays in the checkpoint until the emitter streams it.
  }];
  let cppNamespace = "::dse::dsg";
}

class Dsg_Op<string mnemonic, list<Trait> traits = []> : Op<Dsg_Dialect, mnemonic, traits>;

def Dsg_WeightOp : Dsg_Op<"weight", [Pure]> {
  let summary = "a weight produced from checkpoint tensors by a recipe";
  let description = [{
    `name` is the slot name in the artifact (unique per module; the same name in prefill and
    decode is the same weight). `role` drives the quantization policy (embed, norm, linear,
    bias, router, lm_head, expert, mla_absorb, rope_table). `transform` is the importer's
    WeightRecipe kind; `sources` are checkpoint tensor names in the recipe's order; rows
    `[row_begin, row_end)` for row_slice; `max_pos` the positions of a rope table. `format` is the storage format
    chosen by dse-quantize-weights (f32, f16, bf16, w8, w4, fp8) and `group_size` its w4 group.
  }];
  let arguments = (ins StrAttr:$name, StrAttr:$role, StrAttr:$transform,
                   StrArrayAttr:$sources,
                   DefaultValuedAttr<I64Attr, "0">:$row_begin,
                   DefaultValuedAttr<I64Attr, "0">:$row_end,
                   DefaultValuedAttr<I64Attr, "0">:$max_pos,
                   DefaultValuedAttr<StrAttr, "\"f32\"">:$format,
                   DefaultValuedAttr<I64Attr, "0">:$group_size);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def Dsg_KvCacheOp : Dsg_Op<"kv_cache"> {
  let summary = "a per-layer cache of [max_seq_len, width] values, f32, f16, i8 or f8E4M3FN";
  let description = [{
    An i8 or f8E4M3FN cache is quantized per (position, group) with one f32 scale
    (docs/KERNELS.md, "Quantized KV caches"); `scale_groups` splits a row into that many equal
    groups (one per KV head, or 1 for MLA's caches).
  }];
  let arguments = (ins StrAttr:$name, DefaultValuedAttr<I64Attr, "1">:$scale_groups);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
}

def Dsg_KvStoreOp : Dsg_Op<"kv_store"> {
  let summary = "writes the rows of a call at positions start_pos.. into a cache";
  let arguments = (ins AnyRankedTensor:$src, AnyRankedTensor:$cache);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$src `,` $cache attr-dict `:` functional-type(operands, results)";
}

def Dsg_EmbedOp : Dsg_Op<"embed", [Pure]> {
  let summary = "row lookup of token ids in an embedding table";
  let arguments = (ins AnyRankedTensor:$tokens, AnyRankedTensor:$table);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$tokens `,` $table attr-dict `:` functional-type(operands, results)";
}

def Dsg_RmsNormOp : Dsg_Op<"rms_norm", [Pure]> {
  let summary = "w * x / sqrt(mean(x^2) + eps) per row";
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight, F64Attr:$eps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$x `,` $weight attr-dict `:` functional-type(operands, results)";
}

def Dsg_LinearOp : Dsg_Op<"linear", [Pure]> {
  let summary = "x W^T (+ bias), W stored [N, K]";
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight,
                   Optional<AnyRankedTensor>:$bias);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$x `,` $weight (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Dsg_LogitsOp : Dsg_Op<"logits", [Pure]> {
  let summary = "the lm_head projection of each row: [T, H] -> [T, vocab] (T = 1 after last_row)";
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$weight);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$x `,` $weight attr-dict `:` functional-type(operands, results)";
}

def Dsg_RopeOp : Dsg_Op<"rope", [Pure]> {
  let summary = "rotary embedding of dims [rot_offset, rot_offset+rot_dim) of every head";
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$table,
                   I64Attr:$n_heads, I64Attr:$head_dim, I64Attr:$rot_offset, I64Attr:$rot_dim,
                   BoolAttr:$interleaved);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$x `,` $table attr-dict `:` functional-type(operands, results)";
}

def Dsg_AttentionOp : Dsg_Op<"attention"> {
  let summary = "causal grouped-query attention of q over the caches";
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$k_cache, AnyRankedTensor:$v_cache,
                   I64Attr:$n_q_heads, I64Attr:$n_kv_heads, I64Attr:$head_dim,
                   I64Attr:$v_head_dim, F32Attr:$scale);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$q `,` $k_cache `,` $v_cache attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def Dsg_MlaAttentionOp : Dsg_Op<"mla_attention"> {
  let summary = "absorbed multi-head latent attention over the latent and rope caches";
  let arguments = (ins AnyRankedTensor:$q, AnyRankedTensor:$latent_cache,
                   AnyRankedTensor:$pe_cache, AnyRankedTensor:$w_uk, AnyRankedTensor:$w_uv,
                   I64Attr:$n_heads, I64Attr:$nope_dim, I64Attr:$rope_dim,
                   I64Attr:$kv_lora_rank, I64Attr:$v_head_dim, F32Attr:$scale);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $q `,` $latent_cache `,` $pe_cache `,` $w_uk `,` $w_uv attr-dict `:` functional-type(operands, results)
  }];
}

def Dsg_MoeRouteOp : Dsg_Op<"moe_route", [Pure]> {
  let summary = "DeepSeekMoE routing: expert ids and weights per token";
  let arguments = (ins AnyRankedTensor:$logits, Optional<AnyRankedTensor>:$bias,
                   I64Attr:$top_k, I64Attr:$n_group, I64Attr:$topk_group,
                   I64Attr:$scoring, I64Attr:$method, BoolAttr:$norm_topk_prob,
                   F32Attr:$routed_scaling_factor);
  let results = (outs AnyRankedTensor:$ids, AnyRankedTensor:$weights);
  let assemblyFormat = "$logits (`,` $bias^)? attr-dict `:` functional-type(operands, results)";
}

def Dsg_MoeExpertsOp : Dsg_Op<"moe_experts", [Pure]> {
  let summary = "routed SwiGLU experts with separate gate [E, I, H] and up [E, I, H] weights";
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$ids, AnyRankedTensor:$weights,
                   AnyRankedTensor:$gate, AnyRankedTensor:$up, AnyRankedTensor:$down);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $x `,` $ids `,` $weights `,` $gate `,` $up `,` $down attr-dict `:` functional-type(operands, results)
  }];
}

def Dsg_MoeFfnOp : Dsg_Op<"moe_ffn", [Pure]> {
  let summary = "routed SwiGLU experts with fused gate_up [E, 2I, H] (gate rows first)";
  let arguments = (ins AnyRankedTensor:$x, AnyRankedTensor:$ids, AnyRankedTensor:$weights,
                   AnyRankedTensor:$gate_up, AnyRankedTensor:$down);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $x `,` $ids `,` $weights `,` $gate_up `,` $down attr-dict `:` functional-type(operands, results)
  }];
}

def Dsg_SwigluOp : Dsg_Op<"swiglu", [Pure]> {
  let summary = "silu(gate) * up, from two separate projections";
  let arguments = (ins AnyRankedTensor:$gate, AnyRankedTensor:$up);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` functional-type(operands, results)";
}

def Dsg_SiluMulOp : Dsg_Op<"silu_mul", [Pure]> {
  let summary = "silu(gate_up[:, :I]) * gate_up[:, I:], from one fused projection";
  let arguments = (ins AnyRankedTensor:$gate_up);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$gate_up attr-dict `:` functional-type(operands, results)";
}

def Dsg_AddOp : Dsg_Op<"add", [Pure]> {
  let summary = "elementwise a + b";
  let arguments = (ins AnyRankedTensor:$a, AnyRankedTensor:$b);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$a `,` $b attr-dict `:` functional-type(operands, results)";
}

def Dsg_LastRowOp : Dsg_Op<"last_row", [Pure]> {
  let summary = "the row of the last token of the call: [T, W] -> [1, W]";
  let arguments = (ins AnyRankedTensor:$x);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$x attr-dict `:` functional-type(operands, results)";
}

#endif  // DSE_DSG_OPS
