// dse-verify-plan: an independent check of the memory plan. Every slot has an aligned offset
// inside its region, weights and caches never share bytes, and arena slots that are live at the
// same time in an entry never share bytes.
#include "dse/compiler/Transforms/Passes.h"

#include "llvm/ADT/StringMap.h"

#include "dse/compiler/Planner/GreedyMemoryPlanner.h"
#include "dse/compiler/Transforms/SlotLiveness.h"

namespace dse {
#define GEN_PASS_DEF_VERIFYPLAN
#include "dse/compiler/Transforms/Passes.h.inc"
}  // namespace dse

using namespace mlir;
namespace dsx = dse::dsx;
using dse::compiler::PlacedBuffer;

namespace {

struct VerifyPlanPass : dse::impl::VerifyPlanBase<VerifyPlanPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringMap<dsx::RegionOp> regions;
    for (auto r : module.getOps<dsx::RegionOp>()) regions[r.getKind()] = r;
    for (StringRef kind : {"weights", "kv_cache", "arena"})
      if (!regions.count(kind)) {
        module.emitError() << "no dsx.region \"" << kind << "\": run dse-plan-memory first";
        return signalPassFailure();
      }

    bool ok = true;
    llvm::StringMap<std::vector<PlacedBuffer>> persistent;
    llvm::StringMap<std::vector<dsx::SlotOp>> persistent_slots;
    for (auto slot : module.getOps<dsx::SlotOp>()) {
      dsx::RegionOp region = regions[slot.getRegion()];
      int64_t align = region.getAlignment();
      if (int64_t(slot.getOffset()) < 0 || int64_t(slot.getOffset()) % align != 0 ||
          int64_t(slot.getOffset() + slot.getSize()) > int64_t(region.getSize())) {
        slot.emitOpError() << "offset " << slot.getOffset() << " size " << slot.getSize()
                           << " is not an aligned (" << align << ") range inside region "
                           << slot.getRegion() << " of " << region.getSize() << " bytes";
        ok = false;
      }
      if (slot.getRegion() != "arena") {
        persistent[slot.getRegion()].push_back(PlacedBuffer{int64_t(slot.getOffset()), int64_t(slot.getSize()), 0, 0});
        persistent_slots[slot.getRegion()].push_back(slot);
      }
    }
    for (auto& [kind, buffers] : persistent)
      if (auto clash = dse::compiler::find_overlap(buffers)) {
        auto& slots = persistent_slots[kind];
        slots[clash->first].emitOpError() << "overlaps " << slots[clash->second].getSymName()
                                          << " in region " << kind;
        ok = false;
      }
    for (auto entry : module.getOps<dsx::EntryOp>()) {
      std::vector<dse::SlotLifetime> lifetimes = dse::arena_lifetimes(entry, module);
      std::vector<PlacedBuffer> buffers;
      for (auto& l : lifetimes)
        buffers.push_back(
            PlacedBuffer{int64_t(l.slot.getOffset()), int64_t(l.slot.getSize()), l.first_use, l.last_use});
      if (auto clash = dse::compiler::find_overlap(buffers)) {
        auto& a = lifetimes[clash->first];
        auto& b = lifetimes[clash->second];
        a.slot.emitOpError() << "(live in steps " << a.first_use << ".." << a.last_use
                             << " of entry " << entry.getSymName() << ") overlaps "
                             << b.slot.getSymName() << " (live " << b.first_use << ".."
                             << b.last_use << ")";
        ok = false;
      }
    }
    if (!ok) signalPassFailure();
  }
};

}  // namespace
