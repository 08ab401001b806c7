// Lifetimes of arena slots over the calls of one entry point.
#include "dse/compiler/Transforms/SlotLiveness.h"

#include "mlir/IR/BuiltinOps.h"

using namespace mlir;

namespace dse {

std::vector<SlotLifetime> arena_lifetimes(dsx::EntryOp entry, ModuleOp module) {
  std::vector<SlotLifetime> lifetimes;
  llvm::StringMap<size_t> index;
  SymbolTable symbols(module);
  auto touch = [&](StringRef name, int step) {
    auto it = index.find(name);
    if (it != index.end()) {
      lifetimes[it->second].last_use = step;
      return;
    }
    auto slot = symbols.lookup<dsx::SlotOp>(name);
    if (!slot || slot.getRegion() != "arena") return;
    index[name] = lifetimes.size();
    lifetimes.push_back(SlotLifetime{slot, step, step});
  };
  // Step 0 is "before the first call": the runtime has written the token ids.
  touch(entry.getTokens(), 0);
  int step = 1;
  for (auto call : entry.getBody().front().getOps<dsx::CallOp>()) {
    for (Attribute a : call.getOperands()) touch(cast<FlatSymbolRefAttr>(a).getValue(), step);
    ++step;
  }
  // One step after the last call: the runtime reads the logits.
  touch(entry.getLogits(), step);
  return lifetimes;
}

}  // namespace dse
