// One Llama layer (Qwen2 bias on q) plus the head, as the frontend builds it: the input of the
// select-kernels, plan-memory and verify-plan tests. H 8, 2 q heads, 1 kv head, head_dim 4,
// I 16, vocab 32, 16 positions, chunk 4.
func.func @prefill(%tokens: tensor<4xi32>) -> tensor<1x32xf32> {
  %emb = dsg.weight "model.embed_tokens.weight" {role = "embed", transform = "copy", sources = ["model.embed_tokens.weight"]} : tensor<32x8xf32>
  %rope = dsg.weight "rope_table" {role = "rope_table", transform = "rope_table", sources = [], max_pos = 16} : tensor<16x4xf32>
  %x0 = dsg.embed %tokens, %emb : (tensor<4xi32>, tensor<32x8xf32>) -> tensor<4x8xf32> loc("embed")
  %n1w = dsg.weight "model.layers.0.input_layernorm.weight" {role = "norm", transform = "copy", sources = ["model.layers.0.input_layernorm.weight"]} : tensor<8xf32>
  %h = dsg.rms_norm %x0, %n1w {eps = 1.0e-06 : f64} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> loc("l0.attn_norm")
  %qw = dsg.weight "model.layers.0.self_attn.q_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.self_attn.q_proj.weight"]} : tensor<8x8xf32>
  %qb = dsg.weight "model.layers.0.self_attn.q_proj.bias" {role = "bias", transform = "copy", sources = ["model.layers.0.self_attn.q_proj.bias"]} : tensor<8xf32>
  %kw = dsg.weight "model.layers.0.self_attn.k_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.self_attn.k_proj.weight"]} : tensor<4x8xf32>
  %vw = dsg.weight "model.layers.0.self_attn.v_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.self_attn.v_proj.weight"]} : tensor<4x8xf32>
  %q = dsg.linear %h, %qw, %qb : (tensor<4x8xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> loc("l0.q")
  %k = dsg.linear %h, %kw : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x4xf32> loc("l0.k")
  %v = dsg.linear %h, %vw : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x4xf32> loc("l0.v")
  %qr = dsg.rope %q, %rope {n_heads = 2 : i64, head_dim = 4 : i64, rot_offset = 0 : i64, rot_dim = 4 : i64, interleaved = false} : (tensor<4x8xf32>, tensor<16x4xf32>) -> tensor<4x8xf32>
  %kr = dsg.rope %k, %rope {n_heads = 1 : i64, head_dim = 4 : i64, rot_offset = 0 : i64, rot_dim = 4 : i64, interleaved = false} : (tensor<4x4xf32>, tensor<16x4xf32>) -> tensor<4x4xf32>
  %kc = dsg.kv_cache "kv.0.k" : tensor<16x4xf32>
  %vc = dsg.kv_cache "kv.0.v" : tensor<16x4xf32>
  %kc1 = dsg.kv_store %kr, %kc : (tensor<4x4xf32>, tensor<16x4xf32>) -> tensor<16x4xf32>
  %vc1 = dsg.kv_store %v, %vc : (tensor<4x4xf32>, tensor<16x4xf32>) -> tensor<16x4xf32>
  %att = dsg.attention %qr, %kc1, %vc1 {n_q_heads = 2 : i64, n_kv_heads = 1 : i64, head_dim = 4 : i64, v_head_dim = 4 : i64, scale = 0.5 : f32} : (tensor<4x8xf32>, tensor<16x4xf32>, tensor<16x4xf32>) -> tensor<4x8xf32> loc("l0.attn")
  %ow = dsg.weight "model.layers.0.self_attn.o_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.self_attn.o_proj.weight"]} : tensor<8x8xf32>
  %o = dsg.linear %att, %ow : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32> loc("l0.o")
  %x1 = dsg.add %x0, %o : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> loc("l0.attn_residual")
  %n2w = dsg.weight "model.layers.0.post_attention_layernorm.weight" {role = "norm", transform = "copy", sources = ["model.layers.0.post_attention_layernorm.weight"]} : tensor<8xf32>
  %h2 = dsg.rms_norm %x1, %n2w {eps = 1.0e-06 : f64} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32> loc("l0.mlp_norm")
  %gw = dsg.weight "model.layers.0.mlp.gate_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.mlp.gate_proj.weight"]} : tensor<16x8xf32>
  %uw = dsg.weight "model.layers.0.mlp.up_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.mlp.up_proj.weight"]} : tensor<16x8xf32>
  %dw = dsg.weight "model.layers.0.mlp.down_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.mlp.down_proj.weight"]} : tensor<8x16xf32>
  %g = dsg.linear %h2, %gw : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32> loc("l0.gate")
  %u = dsg.linear %h2, %uw : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32> loc("l0.up")
  %a = dsg.swiglu %g, %u : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32> loc("l0.act")
  %d = dsg.linear %a, %dw : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32> loc("l0.down")
  %x2 = dsg.add %x1, %d : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32> loc("l0.mlp_residual")
  %last = dsg.last_row %x2 : (tensor<4x8xf32>) -> tensor<1x8xf32> loc("last_row")
  %nfw = dsg.weight "model.norm.weight" {role = "norm", transform = "copy", sources = ["model.norm.weight"]} : tensor<8xf32>
  %hf = dsg.rms_norm %last, %nfw {eps = 1.0e-06 : f64} : (tensor<1x8xf32>, tensor<8xf32>) -> tensor<1x8xf32> loc("final_norm")
  %lw = dsg.weight "lm_head.weight" {role = "lm_head", transform = "copy", sources = ["lm_head.weight"]} : tensor<32x8xf32>
  %logits = dsg.logits %hf, %lw : (tensor<1x8xf32>, tensor<32x8xf32>) -> tensor<1x32xf32> loc("logits")
  return %logits : tensor<1x32xf32>
}
