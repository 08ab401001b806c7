// The dsg dialect and its ops (generated from DsgOps.td).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dse/compiler/Dsg/DsgOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "dse/compiler/Dsg/DsgOps.h.inc"
