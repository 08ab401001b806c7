// Verifiers of the dsg ops: shapes that disagree are reported where the graph is built, not
// later as a wrong kernel call.
#include "dse/compiler/Dsg/Dsg.h"

#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace dse::dsg;

#define GET_OP_CLASSES
#include "dse/compiler/Dsg/DsgOps.cpp.inc"

LogicalResult WeightOp::verify() {
  static constexpr llvm::StringLiteral kFormats[] = {"f32", "f16", "bf16", "w8", "w4", "fp8"};
  if (llvm::find(kFormats, getFormat()) == std::end(kFormats))
    return emitOpError() << "format '" << getFormat()
                         << "' is not one of f32, f16, bf16, w8, w4, fp8";
  if (getFormat() == "w4") {
    int64_t k = getType().getShape().back();
    if (int64_t(getGroupSize()) <= 0 || k % int64_t(getGroupSize()) != 0)
      return emitOpError() << "w4 needs a group_size dividing the input dim " << k << ", found "
                           << int64_t(getGroupSize());
  }
  if (getTransform() == "row_slice" && (int64_t(getRowBegin()) < 0 || int64_t(getRowEnd()) <= int64_t(getRowBegin())))
    return emitOpError() << "row_slice needs 0 <= row_begin < row_end, found [" << int64_t(getRowBegin()) << ", "
                         << int64_t(getRowEnd()) << ")";
  return success();
}

LogicalResult LinearOp::verify() {
  auto x = cast<RankedTensorType>(getX().getType());
  auto w = cast<RankedTensorType>(getWeight().getType());
  auto y = cast<RankedTensorType>(getResult().getType());
  if (w.getRank() != 2 || x.getRank() != 2 || y.getRank() != 2)
    return emitOpError() << "expects 2-D x, weight and result";
  if (x.getDimSize(1) != w.getDimSize(1))
    return emitOpError() << "input width " << x.getDimSize(1) << " does not match weight [N, K] with K = "
                         << w.getDimSize(1);
  if (y.getDimSize(0) != x.getDimSize(0) || y.getDimSize(1) != w.getDimSize(0))
    return emitOpError() << "result must be [" << x.getDimSize(0) << ", " << w.getDimSize(0)
                         << "], found " << y;
  if (getBias()) {
    auto b = cast<RankedTensorType>(getBias().getType());
    if (b.getRank() != 1 || b.getDimSize(0) != w.getDimSize(0))
      return emitOpError() << "bias must be [" << w.getDimSize(0) << "], found " << b;
  }
  return success();
}

LogicalResult AttentionOp::verify() {
  if (getNQHeads() % getNKvHeads() != 0)
    return emitOpError() << "n_q_heads " << getNQHeads() << " is not a multiple of n_kv_heads "
                         << getNKvHeads();
  auto q = cast<RankedTensorType>(getQ().getType());
  if (q.getDimSize(1) != int64_t(getNQHeads() * getHeadDim()))
    return emitOpError() << "q width " << q.getDimSize(1) << " != n_q_heads * head_dim = "
                         << getNQHeads() * getHeadDim();
  return success();
}
