// dse-fuse-weights: gate and up projections become one gate_up weight, for the dense MLP and
// for the routed experts.
#include "dse/compiler/Transforms/Passes.h"
#include "dse/compiler/Dsg/WeightBuilder.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace dse {
#define GEN_PASS_DEF_FUSEWEIGHTS
#include "dse/compiler/Transforms/Passes.h.inc"
}  // namespace dse

using namespace mlir;
using namespace dse::dsg;

namespace {

// "…mlp.gate_proj.weight" -> "…mlp.gate_up_proj.weight": the name the slot gets in the artifact.
std::string fused_name(StringRef gate_name, StringRef suffix) {
  std::string name = gate_name.str();
  size_t at = name.find("gate_proj");
  if (at == std::string::npos) return name + suffix.str();
  return name.replace(at, 9, "gate_up_proj");
}

bool same_source_kind(WeightOp a, WeightOp b, StringRef kind) {
  return a && b && a.getTransform() == kind && b.getTransform() == kind &&
         a.getFormat() == b.getFormat();
}

struct FuseDenseGateUp : OpRewritePattern<SwigluOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SwigluOp op, PatternRewriter& rewriter) const override {
    auto gate = op.getGate().getDefiningOp<LinearOp>();
    auto up = op.getUp().getDefiningOp<LinearOp>();
    if (!gate || !up || gate.getX() != up.getX() || gate.getBias() || up.getBias())
      return rewriter.notifyMatchFailure(op, "gate and up are not bias-free linears of one input");
    auto gw = gate.getWeight().getDefiningOp<WeightOp>();
    auto uw = up.getWeight().getDefiningOp<WeightOp>();
    if (!same_source_kind(gw, uw, "copy"))
      return rewriter.notifyMatchFailure(op, "gate and up weights are not plain copies");
    auto gt = cast<RankedTensorType>(gw.getType());
    auto ut = cast<RankedTensorType>(uw.getType());
    if (gt != ut) return rewriter.notifyMatchFailure(op, "gate and up shapes differ");

    WeightSpec spec = spec_of(gw);
    WeightSpec up_spec = spec_of(uw);
    spec.sources.insert(spec.sources.end(), up_spec.sources.begin(), up_spec.sources.end());
    spec.transform = "concat_rows";
    spec.name = fused_name(gw.getName(), ".gate_up");
    auto fusedType = RankedTensorType::get({2 * gt.getDimSize(0), gt.getDimSize(1)},
                                           gt.getElementType());
    rewriter.setInsertionPoint(gate);
    auto weight = create_weight(rewriter, gw.getLoc(), fusedType, spec);
    auto x = gate.getX();
    auto xt = cast<RankedTensorType>(x.getType());
    auto gateUpType = RankedTensorType::get({xt.getDimSize(0), fusedType.getDimSize(0)},
                                            xt.getElementType());
    // "l0.mlp.gate" -> "l0.mlp.gate_up": the activation slot is named after the location.
    Location loc = gate.getLoc();
    if (auto named = dyn_cast<NameLoc>(loc))
      loc = NameLoc::get(rewriter.getStringAttr(named.getName().str() + "_up"), named.getChildLoc());
    auto linear = LinearOp::create(rewriter, loc, gateUpType, x, weight, Value());
    rewriter.setInsertionPoint(op);
    rewriter.replaceOpWithNewOp<SiluMulOp>(op, op.getType(), linear.getResult());
    for (Operation* dead : {gate.getOperation(), up.getOperation()})
      if (dead->use_empty()) rewriter.eraseOp(dead);
    for (Operation* dead : {gw.getOperation(), uw.getOperation()})
      if (dead->use_empty()) rewriter.eraseOp(dead);
    return success();
  }
};

struct FuseExpertGateUp : OpRewritePattern<MoeExpertsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MoeExpertsOp op, PatternRewriter& rewriter) const override {
    auto gw = op.getGate().getDefiningOp<WeightOp>();
    auto uw = op.getUp().getDefiningOp<WeightOp>();
    if (!same_source_kind(gw, uw, "stack_experts"))
      return rewriter.notifyMatchFailure(op, "expert gate and up are not stacked weights");
    auto gt = cast<RankedTensorType>(gw.getType());
    if (gt != cast<RankedTensorType>(uw.getType()) || gt.getRank() != 3 ||
        gw.getSources().size() != uw.getSources().size())
      return rewriter.notifyMatchFailure(op, "expert gate and up shapes differ");
    // The importer's stack_experts_concat takes gate_0, up_0, gate_1, up_1, ...
    WeightSpec spec = spec_of(gw);
    WeightSpec up_spec = spec_of(uw);
    std::vector<std::string> gate_sources = std::move(spec.sources);
    spec.sources.clear();
    for (size_t e = 0; e < up_spec.sources.size(); ++e) {
      spec.sources.push_back(gate_sources[e]);
      spec.sources.push_back(up_spec.sources[e]);
    }
    spec.transform = "stack_experts_concat";
    spec.name = fused_name(gw.getName(), ".gate_up");
    auto fusedType = RankedTensorType::get(
        {gt.getDimSize(0), 2 * gt.getDimSize(1), gt.getDimSize(2)}, gt.getElementType());
    rewriter.setInsertionPoint(gw);
    auto weight = create_weight(rewriter, gw.getLoc(), fusedType, spec);
    rewriter.setInsertionPoint(op);
    rewriter.replaceOpWithNewOp<MoeFfnOp>(op, op.getType(), op.getX(), op.getIds(),
                                          op.getWeights(), weight, op.getDown());
    for (Operation* dead : {gw.getOperation(), uw.getOperation()})
      if (dead->use_empty()) rewriter.eraseOp(dead);
    return success();
  }
};

struct FuseWeightsPass : dse::impl::FuseWeightsBase<FuseWeightsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseDenseGateUp, FuseExpertGateUp>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

}  // namespace
