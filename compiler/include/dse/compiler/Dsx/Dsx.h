// The dsx dialect and its ops (generated from DsxOps.td).
#pragma once

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"

#include "dse/compiler/Dsx/DsxOpsDialect.h.inc"

#define GET_OP_CLASSES
#include "dse/compiler/Dsx/DsxOps.h.inc"
