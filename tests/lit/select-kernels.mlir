// RUN: dse-opt --dse-fuse-weights --dse-select-kernels %S/Inputs/llama-layer.mlir | FileCheck %s
// RUN: dse-opt --dse-fuse-weights --dse-quantize-weights="precision=int4 group-size=8" --dse-select-kernels %S/Inputs/llama-layer.mlir | FileCheck %s --check-prefix=INT4
// RUN: not dse-opt --dse-select-kernels %S/Inputs/llama-layer.mlir 2>&1 | FileCheck %s --check-prefix=UNFUSED

// Slots: weights with their recipe, caches, activations named after the graph's locations.
// CHECK-DAG: dsx.slot @model.embed_tokens.weight {dtype = "f32", recipe = {format = "f32", role = "embed", sources = ["model.embed_tokens.weight"], transform = "copy"}, region = "weights", shape = array<i64: 32, 8>, size = 1024 : i64}
// CHECK-DAG: dsx.slot @kv.0.k {dtype = "f32", region = "kv_cache", shape = array<i64: 16, 4>, size = 256 : i64}
// CHECK-DAG: dsx.slot @prefill.tokens {dtype = "i32", region = "arena", shape = array<i64: 4>, size = 16 : i64}
// CHECK-DAG: dsx.slot @prefill.l0.q {dtype = "f32", region = "arena", shape = array<i64: 4, 8>, size = 128 : i64}

// The decoder layer of docs/KERNELS.md, in order.
// CHECK-LABEL: dsx.entry @prefill attributes {logits = @prefill.logits, max_tokens = 4 : i64, tokens = @prefill.tokens}
// CHECK-NEXT: dsx.call "embed_f32_f32" [@prefill.tokens, @model.embed_tokens.weight, @prefill.embed]
// CHECK-NEXT: dsx.call "rms_norm_f32" [@prefill.embed, @model.layers.0.input_layernorm.weight, @prefill.l0.attn_norm] {fparams = array<f32: 9.99999997E-7>}
// CHECK-NEXT: dsx.call "matmul_f32_f32" [@prefill.l0.attn_norm, @model.layers.0.self_attn.q_proj.weight, @model.layers.0.self_attn.q_proj.bias, @prefill.l0.q] {iparams = array<i64: 1>}
// CHECK-NEXT: dsx.call "matmul_f32_f32" [@prefill.l0.attn_norm, @model.layers.0.self_attn.k_proj.weight, @prefill.l0.k] {iparams = array<i64: 0>}
// CHECK-NEXT: dsx.call "matmul_f32_f32" [@prefill.l0.attn_norm, @model.layers.0.self_attn.v_proj.weight, @prefill.l0.v] {iparams = array<i64: 0>}
// CHECK-NEXT: dsx.call "rope_f32" [@prefill.l0.q, @rope_table] {iparams = array<i64: 2, 4, 0, 4, 0>}
// CHECK-NEXT: dsx.call "rope_f32" [@prefill.l0.k, @rope_table] {iparams = array<i64: 1, 4, 0, 4, 0>}
// CHECK-NEXT: dsx.call "kv_store" [@prefill.l0.k, @kv.0.k]
// CHECK-NEXT: dsx.call "kv_store" [@prefill.l0.v, @kv.0.v]
// CHECK-NEXT: dsx.call "attention_f32" [@prefill.l0.q, @kv.0.k, @kv.0.v, @prefill.l0.attn] {fparams = array<f32: 5.000000e-01>, iparams = array<i64: 2, 1, 4, 4>}
// CHECK-NEXT: dsx.call "matmul_f32_f32" [@prefill.l0.attn, @model.layers.0.self_attn.o_proj.weight, @prefill.l0.o] {iparams = array<i64: 0>}
// CHECK-NEXT: dsx.call "add_f32" [@prefill.embed, @prefill.l0.o, @prefill.l0.attn_residual]
// CHECK-NEXT: dsx.call "rms_norm_f32"
// CHECK-NEXT: dsx.call "matmul_f32_f32" [@prefill.l0.mlp_norm, @model.layers.0.mlp.gate_up_proj.weight, @prefill.l0.gate_up] {iparams = array<i64: 0>}
// CHECK-NEXT: dsx.call "silu_mul_f32" [@prefill.l0.gate_up, @prefill.l0.act]
// CHECK-NEXT: dsx.call "matmul_f32_f32" [@prefill.l0.act, @model.layers.0.mlp.down_proj.weight, @prefill.l0.down]
// CHECK-NEXT: dsx.call "add_f32"
// CHECK-NEXT: dsx.call "last_row_f32" [@prefill.l0.mlp_residual, @prefill.last_row]
// CHECK-NEXT: dsx.call "rms_norm_f32" [@prefill.last_row, @model.norm.weight, @prefill.final_norm]
// CHECK-NEXT: dsx.call "matmul_f32_f32" [@prefill.final_norm, @lm_head.weight, @prefill.logits] {iparams = array<i64: 0>}
// CHECK-NEXT: }
// CHECK-NOT: func.func

// Quantized projections take their scale slot right after the weight.
// INT4-DAG: dsx.slot @model.layers.0.self_attn.k_proj.weight {dtype = "i4", group_size = 8 : i64, {{.*}}size = 16 : i64}
// INT4-DAG: dsx.slot @model.layers.0.self_attn.k_proj.weight.scales {dtype = "f16", group_size = 8 : i64, region = "weights", scales_of = @model.layers.0.self_attn.k_proj.weight, shape = array<i64: 4, 1>, size = 8 : i64}
// INT4-DAG: dsx.call "embed_f32_f16"
// INT4-DAG: dsx.call "matmul_f32_w4" [@prefill.l0.attn_norm, @model.layers.0.self_attn.k_proj.weight, @model.layers.0.self_attn.k_proj.weight.scales, @prefill.l0.k] {iparams = array<i64: 0>}
// INT4-DAG: dsx.call "matmul_f32_f16" [@prefill.final_norm, @lm_head.weight, @prefill.logits]

// UNFUSED: 'dsg.swiglu' op has no kernel on target cpu: the CPU kernels take gate and up fused; run dse-fuse-weights first
