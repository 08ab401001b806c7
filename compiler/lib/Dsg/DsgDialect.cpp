// Registration of the dsg dialect.
#include "dse/compiler/Dsg/Dsg.h"

using namespace mlir;
using namespace dse::dsg;

#include "dse/compiler/Dsg/DsgOpsDialect.cpp.inc"

void DsgDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dse/compiler/Dsg/DsgOps.cpp.inc"
      >();
}
