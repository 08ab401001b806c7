// The passes of dsc, in pipeline order: fuse, quantize, select kernels, plan memory, verify plan.
#ifndef DSE_TRANSFORMS_PASSES
#define DSE_TRANSFORMS_PASSES

include "mlir/Pass/PassBase.td"

def FuseWeights : Pass<"dse-fuse-weights", "mlir::ModuleOp"> {
  let summary = "Fuse gate and up projections into one gate_up weight";
  let description = [{
    `dsg.swiglu(dsg.linear(x, gate), dsg.linear(x, up))` becomes
    `dsg.silu_mul(dsg.linear(x, gate_up))` with `gate_up = concat_rows(gate, up)` ([2I, H], gate
    rows first, as silu_mul_f32 expects); `dsg.moe_experts` becomes `dsg.moe_ffn` with the
    experts' gate and up stacked and concatenated ([E, 2I, H]). q/k/v are not fused: the CPU
    kernels have no strided views to split a fused output.
  }];
  let dependentDialects = ["::dse::dsg::DsgDialect"];
}

def QuantizeWeights : Pass<"dse-quantize-weights", "mlir::ModuleOp"> {
  let summary = "Choose the storage format of every weight (per-tensor policy)";
  let description = [{
    Sets `format` and `group_size` of every `dsg.weight` from its role and --precision:
    projections and experts take the requested precision; embeddings, lm_head and the MLA
    absorbed matrices stay in 16 bits when the precision is 8 bits or less; norms, biases,
    router gates and the rope table stay f32 (their kernels take f32). `override` entries
    `SUBSTRING=FORMAT` win over the policy for every weight whose name contains SUBSTRING.
    A w4 weight takes group gcd(K, group-size); below 8 elements it is stored as w8 (warning).
  }];
  let options = [
    Option<"precision", "precision", "std::string", "\"fp32\"",
           "fp32, fp16, bf16, int8, int4 or fp8">,
    Option<"groupSize", "group-size", "int64_t", "128", "w4 group size (input elements per scale)">,
    Option<"targetHasFp8", "target-has-fp8", "bool", "false", "the target has fp8 kernels">,
    ListOption<"overrides", "override", "std::string",
               "SUBSTRING=FORMAT: store weights whose name contains SUBSTRING as FORMAT">
  ];
}

def SelectKernels : Pass<"dse-select-kernels", "mlir::ModuleOp"> {
  let summary = "Lower the dsg graph to dsx kernel calls for the target";
  let description = [{
    Every dsg op becomes the kernel calls of docs/KERNELS.md ("How a decoder layer lowers"),
    every value a `dsx.slot` (activations in the arena, caches in kv_cache, weights and their
    scales in weights). The dsg functions are replaced by `dsx.entry` ops.
  }];
  let options = [
    Option<"target", "target", "std::string", "\"cpu\"", "target registry key">
  ];
  let dependentDialects = ["::dse::dsx::DsxDialect"];
}

def PlanMemory : Pass<"dse-plan-memory", "mlir::ModuleOp"> {
  let summary = "Give every slot an offset in its region";
  let description = [{
    Weights and caches are laid out one after another. Arena slots are placed by a greedy
    planner over their lifetimes (first to last call that uses them) in each entry point; the
    entry points share the arena, whose size is the largest of their plans.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", "256", "bytes; every slot offset is a multiple">
  ];
}

def VerifyPlan : Pass<"dse-verify-plan", "mlir::ModuleOp"> {
  let summary = "Check that no two simultaneously live slots overlap and all fit their region";
}

#endif  // DSE_TRANSFORMS_PASSES
