// Lifetimes of arena slots over the linear schedule of one dsx.entry, shared by the planner and
// the plan verifier so that both agree on what "live at the same time" means.
#pragma once

#include <string>
#include <vector>

#include "mlir/IR/BuiltinOps.h"

#include "dse/compiler/Dsx/Dsx.h"

namespace dse {

struct SlotLifetime {
  dsx::SlotOp slot;
  int first_use = 0;  // index of the first call that names the slot
  int last_use = 0;   // index of the last one (inclusive)
};

// Arena slots named by `entry`, in first-use order. The tokens slot is live from before the
// first call and the logits slot until after the last one (the runtime writes and reads them
// around the calls).
std::vector<SlotLifetime> arena_lifetimes(dsx::EntryOp entry, mlir::ModuleOp module);

}  // namespace dse
