// RUN: dse-opt --dse-quantize-weights="precision=int4" %s | FileCheck %s --check-prefix=INT4
// RUN: dse-opt --dse-quantize-weights="precision=int4 group-size=32" %s | FileCheck %s --check-prefix=G32
// RUN: dse-opt --dse-quantize-weights="precision=int8" %s | FileCheck %s --check-prefix=INT8
// RUN: dse-opt --dse-quantize-weights="precision=fp16" %s | FileCheck %s --check-prefix=FP16
// RUN: dse-opt --dse-quantize-weights="precision=int4 override=lm_head=w8,embed=f32" %s | FileCheck %s --check-prefix=OVR
// RUN: not dse-opt --dse-quantize-weights="precision=fp8" %s 2>&1 | FileCheck %s --check-prefix=FP8
// RUN: not dse-opt --dse-quantize-weights="precision=int4 override=norm=w4" %s 2>&1 | FileCheck %s --check-prefix=BADOVR
// RUN: dse-opt --dse-quantize-weights="precision=int4" %s 2>&1 >/dev/null | FileCheck %s --check-prefix=WARN

// INT4: dsg.weight "embed" {format = "f16"
// INT4: dsg.weight "norm" {role = "norm"
// INT4: dsg.weight "proj" {format = "w4", group_size = 128 : i64
// INT4: dsg.weight "router" {role = "router"
// INT4: dsg.weight "experts" {format = "w4", group_size = 128 : i64
// INT4: dsg.weight "lm_head" {format = "f16"
// INT4: dsg.weight "w_uk" {format = "f16"
// A row of 96 inputs takes the largest group dividing it (gcd 32).
// INT4: dsg.weight "short" {format = "w4", group_size = 32 : i64

// G32: dsg.weight "proj" {format = "w4", group_size = 32 : i64

// INT8: dsg.weight "proj" {format = "w8"
// INT8: dsg.weight "experts" {format = "w8"
// INT8: dsg.weight "lm_head" {format = "f16"

// FP16: dsg.weight "embed" {format = "f16"
// FP16: dsg.weight "norm" {role = "norm"
// FP16: dsg.weight "proj" {format = "f16"

// OVR: dsg.weight "embed" {role = "embed"
// OVR: dsg.weight "proj" {format = "w4"
// OVR: dsg.weight "lm_head" {format = "w8"

// A row of 12 inputs has no group of 8 or more in common with 128: w8, with one warning.
// INT4: dsg.weight "tiny" {format = "w8", role = "linear"
// WARN: warning: input dim 12 and group 128 have no common group of 8 or more elements; stored as w8 instead of w4 (try --group-size)
// WARN-NOT: warning

// FP8: error: --precision fp8 needs a target with fp8 kernels
// BADOVR: error: override norm=w4 asks w4 for a norm weight, whose kernel takes only f32

func.func @weights() {
  %0 = dsg.weight "embed" {role = "embed", transform = "copy", sources = ["embed"]} : tensor<32x256xf32>
  %1 = dsg.weight "norm" {role = "norm", transform = "copy", sources = ["norm"]} : tensor<256xf32>
  %2 = dsg.weight "proj" {role = "linear", transform = "copy", sources = ["proj"]} : tensor<64x256xf32>
  %3 = dsg.weight "router" {role = "router", transform = "copy", sources = ["router"]} : tensor<4x256xf32>
  %4 = dsg.weight "experts" {role = "expert", transform = "stack_experts", sources = ["a", "b"]} : tensor<2x64x256xf32>
  %5 = dsg.weight "lm_head" {role = "lm_head", transform = "copy", sources = ["lm_head"]} : tensor<32x256xf32>
  %6 = dsg.weight "w_uk" {role = "mla_absorb", transform = "mla_w_uk", sources = ["kv_b"]} : tensor<2x4x16xf32>
  %7 = dsg.weight "short" {role = "linear", transform = "copy", sources = ["short"]} : tensor<8x96xf32>
  %8 = dsg.weight "tiny" {role = "linear", transform = "copy", sources = ["tiny"]} : tensor<4x12xf32>
  return
}
