// Declarations and registration of the dsc passes (generated from Passes.td).
#pragma once

#include <memory>
#include <string>

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include "dse/compiler/Dsg/Dsg.h"
#include "dse/compiler/Dsx/Dsx.h"

namespace dse {

#define GEN_PASS_DECL
#include "dse/compiler/Transforms/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "dse/compiler/Transforms/Passes.h.inc"

}  // namespace dse
