// Registration of the dsx dialect.
#include "dse/compiler/Dsx/Dsx.h"

using namespace mlir;
using namespace dse::dsx;

#include "dse/compiler/Dsx/DsxOpsDialect.cpp.inc"

void DsxDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dse/compiler/Dsx/DsxOps.cpp.inc"
      >();
}
