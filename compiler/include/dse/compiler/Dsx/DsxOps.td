// The dsx dialect: what the runtime executes, kernel calls on slots of three memory regions.
#ifndef DSE_DSX_OPS
#define DSE_DSX_OPS

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinAttributes.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/IR/RegionKindInterface.td"

def Dsx_Dialect : Dialect {
  let name = "dsx";
  let summary = "DeepSeek Edge kernel calls on planned slots";
  let description = [{
    A module of `dsx.slot` symbols (tensors placed in the weights, kv_cache or arena region),
    `dsx.region` sizes, and one `dsx.entry` per entry point holding `dsx.call` ops in execution
    order. Kernel names, operand order and parameters follow docs/KERNELS.md.
  }];
  let cppNamespace = "::dse::dsx";
}

class Dsx_Op<string mnemonic, list<Trait> traits = []> : Op<Dsx_Dialect, mnemonic, traits>;

def Dsx_SlotOp : Dsx_Op<"slot", [Symbol]> {
  let summary = "a tensor placed in a region";
  let description = [{
    `region` is weights, kv_cache or arena; `dtype` f32, f16, bf16, i8, i4, fp8e4m3, i32;
    `size` in bytes; `offset` in bytes from the start of the region, -1 until dse-plan-memory.
    Weight slots carry `recipe` (how the importer produces the bytes); the scale slot of a
    quantized weight names its weight in `scales_of`.
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, StrAttr:$region, StrAttr:$dtype,
                   DenseI64ArrayAttr:$shape, I64Attr:$size,
                   DefaultValuedAttr<I64Attr, "-1">:$offset,
                   DefaultValuedAttr<I64Attr, "0">:$group_size,
                   OptionalAttr<DictionaryAttr>:$recipe,
                   OptionalAttr<FlatSymbolRefAttr>:$scales_of);
  let assemblyFormat = "$sym_name attr-dict";
  let hasVerifier = 1;
}

def Dsx_RegionOp : Dsx_Op<"region"> {
  let summary = "the size and alignment (bytes) of one memory region";
  let arguments = (ins StrAttr:$kind, I64Attr:$size, I64Attr:$alignment);
  let assemblyFormat = "$kind attr-dict";
}

def Dsx_EntryOp : Dsx_Op<"entry", [Symbol, SingleBlock, NoTerminator,
                                   DeclareOpInterfaceMethods<RegionKindInterface>]> {
  let summary = "an entry point: kernel calls in execution order";
  let arguments = (ins SymbolNameAttr:$sym_name, I64Attr:$max_tokens,
                   FlatSymbolRefAttr:$tokens, FlatSymbolRefAttr:$logits);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name attr-dict-with-keyword $body";
}

def Dsx_CallOp : Dsx_Op<"call", [HasParent<"EntryOp">,
                                 DeclareOpInterfaceMethods<SymbolUserOpInterface>]> {
  let summary = "one kernel call; operands are slots in the order docs/KERNELS.md gives";
  let arguments = (ins StrAttr:$kernel, FlatSymbolRefArrayAttr:$operands,
                   DefaultValuedAttr<DenseI64ArrayAttr, "{}">:$iparams,
                   DefaultValuedAttr<DenseF32ArrayAttr, "{}">:$fparams);
  let assemblyFormat = "$kernel $operands attr-dict";
  let hasVerifier = 1;
}

#endif  // DSE_DSX_OPS
