// RUN: dse-opt --dse-fuse-weights --dse-select-kernels --dse-plan-memory --dse-verify-plan %S/Inputs/llama-layer.mlir | FileCheck %s
// RUN: dse-opt --dse-fuse-weights --dse-select-kernels --dse-plan-memory="alignment=64" --dse-verify-plan %S/Inputs/llama-layer.mlir | FileCheck %s --check-prefix=A64
// RUN: not dse-opt --dse-fuse-weights --dse-select-kernels --dse-plan-memory="alignment=100" %S/Inputs/llama-layer.mlir 2>&1 | FileCheck %s --check-prefix=BAD

// Weights: 13 slots back to back at 256-byte alignment. KV cache: exactly 2 x [16 positions, 4]
// f32 = 512 bytes. Arena: the widest moment is the fused gate_up output (512 bytes) beside the
// residual stream (128) -> 1280 bytes with alignment, far below the 2900-odd bytes of all
// activations side by side.
// CHECK-DAG: dsx.region "weights" {alignment = 256 : i64, size = 5888 : i64}
// CHECK-DAG: dsx.region "kv_cache" {alignment = 256 : i64, size = 512 : i64}
// CHECK-DAG: dsx.region "arena" {alignment = 256 : i64, size = 1280 : i64}
// CHECK-DAG: dsx.slot @kv.0.k {dtype = "f32", offset = 0 : i64, region = "kv_cache"
// CHECK-DAG: dsx.slot @kv.0.v {dtype = "f32", offset = 256 : i64, region = "kv_cache"
// The embedding output dies at the first residual add, so the later down projection reuses it.
// CHECK-DAG: dsx.slot @prefill.embed {dtype = "f32", offset = 0 : i64
// CHECK-DAG: dsx.slot @prefill.l0.down {dtype = "f32", offset = 0 : i64

// A64-DAG: dsx.region "kv_cache" {alignment = 64 : i64, size = 512 : i64}
// A64-DAG: dsx.region "arena" {alignment = 64 : i64, size = 896 : i64}

// BAD: error: --alignment must be a power of two, found 100
