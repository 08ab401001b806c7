// RUN: dse-opt --dse-fuse-weights %s | FileCheck %s

// Dense MLP: gate and up become one concat_rows weight [2I, H] and silu_mul.
// CHECK-LABEL: func.func @dense
// CHECK: %[[W:.*]] = dsg.weight "model.layers.0.mlp.gate_up_proj.weight" {role = "linear", sources = ["model.layers.0.mlp.gate_proj.weight", "model.layers.0.mlp.up_proj.weight"], transform = "concat_rows"} : tensor<32x8xf32>
// CHECK: %[[GU:.*]] = dsg.linear %arg0, %[[W]] : (tensor<4x8xf32>, tensor<32x8xf32>) -> tensor<4x32xf32>
// CHECK: %[[H:.*]] = dsg.silu_mul %[[GU]] : (tensor<4x32xf32>) -> tensor<4x16xf32>
// CHECK-NOT: dsg.swiglu
// CHECK-NOT: gate_proj.weight" {
// CHECK: dsg.linear %[[H]]
func.func @dense(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %g = dsg.weight "model.layers.0.mlp.gate_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.mlp.gate_proj.weight"]} : tensor<16x8xf32>
  %u = dsg.weight "model.layers.0.mlp.up_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.mlp.up_proj.weight"]} : tensor<16x8xf32>
  %d = dsg.weight "model.layers.0.mlp.down_proj.weight" {role = "linear", transform = "copy", sources = ["model.layers.0.mlp.down_proj.weight"]} : tensor<8x16xf32>
  %0 = dsg.linear %x, %g : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  %1 = dsg.linear %x, %u : (tensor<4x8xf32>, tensor<16x8xf32>) -> tensor<4x16xf32>
  %2 = dsg.swiglu %0, %1 : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %3 = dsg.linear %2, %d : (tensor<4x16xf32>, tensor<8x16xf32>) -> tensor<4x8xf32>
  return %3 : tensor<4x8xf32>
}

// Experts: stacked gate and up become stack_experts_concat [E, 2I, H], sources interleaved
// gate_e, up_e as the importer expects, and moe_experts becomes moe_ffn.
// CHECK-LABEL: func.func @experts
// CHECK: dsg.weight "model.layers.1.mlp.experts.gate_up_proj" {role = "expert", sources = ["e0.gate", "e0.up", "e1.gate", "e1.up"], transform = "stack_experts_concat"} : tensor<2x12x8xf32>
// CHECK: dsg.moe_ffn
// CHECK-NOT: dsg.moe_experts
func.func @experts(%x: tensor<4x8xf32>, %ids: tensor<4x1xi32>, %w: tensor<4x1xf32>) -> tensor<4x8xf32> {
  %g = dsg.weight "model.layers.1.mlp.experts.gate_proj" {role = "expert", transform = "stack_experts", sources = ["e0.gate", "e1.gate"]} : tensor<2x6x8xf32>
  %u = dsg.weight "model.layers.1.mlp.experts.up_proj" {role = "expert", transform = "stack_experts", sources = ["e0.up", "e1.up"]} : tensor<2x6x8xf32>
  %d = dsg.weight "model.layers.1.mlp.experts.down_proj" {role = "expert", transform = "stack_experts", sources = ["e0.down", "e1.down"]} : tensor<2x8x6xf32>
  %0 = dsg.moe_experts %x, %ids, %w, %g, %u, %d : (tensor<4x8xf32>, tensor<4x1xi32>, tensor<4x1xf32>, tensor<2x6x8xf32>, tensor<2x6x8xf32>, tensor<2x8x6xf32>) -> tensor<4x8xf32>
  return %0 : tensor<4x8xf32>
}

// q/k/v stay separate on the CPU (no strided views in docs/KERNELS.md).
// CHECK-LABEL: func.func @qkv
// CHECK-COUNT-2: dsg.linear %arg0
func.func @qkv(%x: tensor<4x8xf32>) -> (tensor<4x8xf32>, tensor<4x4xf32>) {
  %q = dsg.weight "q" {role = "linear", transform = "copy", sources = ["q"]} : tensor<8x8xf32>
  %k = dsg.weight "k" {role = "linear", transform = "copy", sources = ["k"]} : tensor<4x8xf32>
  %0 = dsg.linear %x, %q : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %1 = dsg.linear %x, %k : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x4xf32>
  return %0, %1 : tensor<4x8xf32>, tensor<4x4xf32>
}
