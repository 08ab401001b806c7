// dse-plan-memory: offsets for every slot. Weights and caches live for the whole session and
// are laid out back to back; arena slots share bytes when their lifetimes do not overlap.
#include "dse/compiler/Transforms/Passes.h"

#include <algorithm>

#include "dse/compiler/Planner/GreedyMemoryPlanner.h"
#include "dse/compiler/Transforms/SlotLiveness.h"

namespace dse {
#define GEN_PASS_DEF_PLANMEMORY
#include "dse/compiler/Transforms/Passes.h.inc"
}  // namespace dse

using namespace mlir;
namespace dsx = dse::dsx;
using dse::compiler::align_up;

namespace {

struct PlanMemoryPass : dse::impl::PlanMemoryBase<PlanMemoryPass> {
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
      module.emitError() << "--alignment must be a power of two, found " << int64_t(alignment);
      return signalPassFailure();
    }
    Builder b(module.getContext());
    int64_t weights_end = 0, kv_end = 0;
    for (auto slot : module.getOps<dsx::SlotOp>()) {
      int64_t* end = slot.getRegion() == "weights" ? &weights_end
                     : slot.getRegion() == "kv_cache" ? &kv_end : nullptr;
      if (!end) continue;
      int64_t offset = align_up(*end, alignment);
      slot.setOffsetAttr(b.getI64IntegerAttr(offset));
      *end = offset + slot.getSize();
    }
    int64_t arena = 0;
    for (auto entry : module.getOps<dsx::EntryOp>()) {
      std::vector<dse::SlotLifetime> lifetimes = dse::arena_lifetimes(entry, module);
      dse::compiler::GreedyMemoryPlanner planner(alignment);
      for (auto& l : lifetimes) planner.add_buffer(l.slot.getSize(), l.first_use, l.last_use);
      planner.plan();
      for (size_t i = 0; i < lifetimes.size(); ++i)
        lifetimes[i].slot.setOffsetAttr(b.getI64IntegerAttr(planner.offset(int(i))));
      arena = std::max(arena, planner.arena_size());
    }
    // Arena slots no entry names (none today) still get a valid place.
    for (auto slot : module.getOps<dsx::SlotOp>())
      if (slot.getRegion() == "arena" && int64_t(slot.getOffset()) < 0)
        slot.setOffsetAttr(b.getI64IntegerAttr(0)), arena = std::max(arena, align_up(slot.getSize(), alignment));

    for (auto region : llvm::make_early_inc_range(module.getOps<dsx::RegionOp>())) region.erase();
    OpBuilder ob(module.getContext());
    ob.setInsertionPointToStart(module.getBody());
    for (auto [kind, size] : {std::pair<StringRef, int64_t>{"weights", align_up(weights_end, alignment)},
                              {"kv_cache", align_up(kv_end, alignment)},
                              {"arena", arena}})
      dsx::RegionOp::create(ob, module.getLoc(), ob.getStringAttr(kind), ob.getI64IntegerAttr(size),
                            ob.getI64IntegerAttr(alignment));
  }
};

}  // namespace
