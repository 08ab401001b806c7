// Verifiers of the dsx ops: every call operand is a slot, every slot names a known region.
#include "dse/compiler/Dsx/Dsx.h"

#include "mlir/IR/Builders.h"

#include "dse/compiler/Dsx/KernelContract.h"

using namespace mlir;
using namespace dse::dsx;

#define GET_OP_CLASSES
#include "dse/compiler/Dsx/DsxOps.cpp.inc"

LogicalResult SlotOp::verify() {
  StringRef region = getRegion();
  if (region != "weights" && region != "kv_cache" && region != "arena")
    return emitOpError() << "region '" << region << "' is not one of weights, kv_cache, arena";
  // I64Attr's getter is unsigned: a negative size in the IR text reads back as a huge one.
  if (int64_t(getSize()) < 0) return emitOpError() << "size must be non-negative, found " << int64_t(getSize());
  return success();
}

RegionKind EntryOp::getRegionKind(unsigned) { return RegionKind::Graph; }

LogicalResult CallOp::verifySymbolUses(SymbolTableCollection& symbols) {
  Operation* module = (*this)->getParentOp()->getParentOp();
  for (Attribute a : getOperands()) {
    auto ref = cast<FlatSymbolRefAttr>(a);
    auto slot = symbols.lookupSymbolIn<SlotOp>(module, ref);
    if (!slot)
      return emitOpError() << "operand " << ref << " is not a dsx.slot in the module";
  }
  return success();
}

LogicalResult CallOp::verify() {
  std::optional<KernelContract> contract = find_kernel_contract(getKernel());
  if (!contract)
    return emitOpError() << "kernel '" << getKernel() << "' is not in docs/KERNELS.md";
  size_t n = getOperands().size();
  if (n < contract->min_operands || n > contract->max_operands)
    return emitOpError() << getKernel() << " takes " << contract->min_operands
                         << (contract->min_operands == contract->max_operands
                                 ? ""
                                 : " to " + std::to_string(contract->max_operands))
                         << " operands, found " << n;
  if (getIparams().size() != contract->iparams || getFparams().size() != contract->fparams)
    return emitOpError() << getKernel() << " takes " << contract->iparams << " iparams and "
                         << contract->fparams << " fparams, found " << getIparams().size()
                         << " and " << getFparams().size();
  return success();
}
