// RUN: dse-opt %s -split-input-file -verify-diagnostics

dsx.slot @w {region = "weights", dtype = "f32", shape = array<i64: 4>, size = 16 : i64}
dsx.entry @decode attributes {max_tokens = 1 : i64, tokens = @w, logits = @w} {
  // expected-error @+1 {{operand @missing is not a dsx.slot in the module}}
  dsx.call "add_f32" [@w, @missing, @w]
}

// -----

// expected-error @+1 {{region 'gpu' is not one of weights, kv_cache, arena}}
dsx.slot @w {region = "gpu", dtype = "f32", shape = array<i64: 4>, size = 16 : i64}

// -----

// expected-error @+1 {{format 'w3' is not one of f32, f16, bf16, w8, w4, fp8}}
%0 = dsg.weight "w" {role = "linear", transform = "copy", sources = ["w"], format = "w3"} : tensor<4x4xf32>

// -----

dsx.slot @x {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64}
dsx.entry @decode attributes {max_tokens = 1 : i64, tokens = @x, logits = @x} {
  // expected-error @+1 {{attention_f32 takes 4 iparams and 1 fparams, found 4 and 0}}
  dsx.call "attention_f32" [@x, @x, @x, @x] {iparams = array<i64: 1, 1, 4, 4>}
}

// -----

dsx.slot @x {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64}
dsx.entry @decode attributes {max_tokens = 1 : i64, tokens = @x, logits = @x} {
  // expected-error @+1 {{matmul_f32_w4 takes 3 to 5 operands, found 2}}
  dsx.call "matmul_f32_w4" [@x, @x] {iparams = array<i64: 0>}
}

// -----

dsx.slot @x {region = "arena", dtype = "f32", shape = array<i64: 1, 4>, size = 16 : i64}
dsx.entry @decode attributes {max_tokens = 1 : i64, tokens = @x, logits = @x} {
  // expected-error @+1 {{kernel 'gelu_f32' is not in docs/KERNELS.md}}
  dsx.call "gelu_f32" [@x, @x]
}

// -----

// The size attribute's getter is unsigned; the verifier reads it as signed so that -16 is caught.
// expected-error @+1 {{size must be non-negative, found -16}}
dsx.slot @w {region = "weights", dtype = "f32", shape = array<i64: 4>, size = -16 : i64}

// -----

// expected-error @+1 {{w4 needs a group_size dividing the input dim 4, found -2}}
%0 = dsg.weight "w" {role = "linear", transform = "copy", sources = ["w"], format = "w4", group_size = -2 : i64} : tensor<4x4xf32>

// -----

// expected-error @+1 {{row_slice needs 0 <= row_begin < row_end, found [-1, 2)}}
%0 = dsg.weight "w" {role = "linear", transform = "row_slice", sources = ["w"], format = "f32", row_begin = -1 : i64, row_end = 2 : i64} : tensor<4x4xf32>
