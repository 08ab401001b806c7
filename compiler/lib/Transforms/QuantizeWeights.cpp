// dse-quantize-weights: the per-tensor storage policy. Projections take the requested precision;
// tensors that are small or sensitive keep more bits, and kernels that only take f32 get f32.
#include "dse/compiler/Transforms/Passes.h"

#include <numeric>

#include "llvm/ADT/StringSet.h"

namespace dse {
#define GEN_PASS_DEF_QUANTIZEWEIGHTS
#include "dse/compiler/Transforms/Passes.h.inc"
}  // namespace dse

using namespace mlir;
using namespace dse::dsg;

namespace {

// What each role may be stored as: the kernels of docs/KERNELS.md decide.
//   norm, bias, router, rope_table: f32 only (rms_norm_f32, matmul bias, "matmul_f32_f32 router").
//   embed, mla_absorb: f32, f16, bf16 (embed_f32_<w>, mla_attention's W_UK/W_UV).
//   linear, expert, lm_head: any format.
bool role_allows(StringRef role, StringRef format) {
  if (role == "norm" || role == "bias" || role == "router" || role == "rope_table")
    return format == "f32";
  if (role == "embed" || role == "mla_absorb")
    return format == "f32" || format == "f16" || format == "bf16";
  return true;
}

struct QuantizeWeightsPass : dse::impl::QuantizeWeightsBase<QuantizeWeightsPass> {
  using QuantizeWeightsBase::QuantizeWeightsBase;

  // The format the policy picks for `role` under --precision, before overrides.
  FailureOr<std::string> policy(StringRef role, Location loc) {
    std::string projection, sensitive;
    if (precision == "fp32") projection = sensitive = "f32";
    else if (precision == "fp16") projection = sensitive = "f16";
    else if (precision == "bf16") projection = sensitive = "bf16";
    else if (precision == "int8") projection = "w8", sensitive = "f16";
    else if (precision == "int4") projection = "w4", sensitive = "f16";
    else if (precision == "fp8") projection = "fp8", sensitive = "f16";
    else
      return emitError(loc) << "precision '" << precision
                            << "' is not one of fp32, fp16, bf16, int8, int4, fp8";
    if (role == "norm" || role == "bias" || role == "router" || role == "rope_table")
      return std::string("f32");
    if (role == "embed" || role == "lm_head" || role == "mla_absorb") return sensitive;
    return projection;
  }

  void runOnOperation() override {
    if (precision == "fp8" && !targetHasFp8) {
      emitError(getOperation().getLoc())
          << "--precision fp8 needs a target with fp8 kernels; this target has none: use int8 "
             "(same size) or fp16";
      return signalPassFailure();
    }
    if (groupSize < 2 || groupSize % 2 != 0) {
      emitError(getOperation().getLoc())
          << "--group-size must be an even number of at least 2, found " << groupSize;
      return signalPassFailure();
    }
    // Parsed once: SUBSTRING=FORMAT.
    SmallVector<std::pair<std::string, std::string>> rules;
    for (const std::string& entry : overrides) {
      size_t eq = entry.rfind('=');
      if (eq == std::string::npos || eq == 0) {
        emitError(getOperation().getLoc())
            << "override '" << entry << "' is not SUBSTRING=FORMAT (e.g. lm_head=w8)";
        return signalPassFailure();
      }
      rules.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
    }

    llvm::StringSet<> warned;  // prefill and decode hold the same weights: warn once per name
    WalkResult result = getOperation().walk([&](WeightOp op) -> WalkResult {
      FailureOr<std::string> chosen = policy(op.getRole(), op.getLoc());
      if (failed(chosen)) return WalkResult::interrupt();
      std::string format = *chosen;
      for (const auto& [substring, wanted] : rules) {
        if (!op.getName().contains(substring)) continue;
        if (!role_allows(op.getRole(), wanted)) {
          op.emitError() << "override " << substring << "=" << wanted << " asks " << wanted
                         << " for a " << op.getRole()
                         << " weight, whose kernel takes only "
                         << (role_allows(op.getRole(), "f16") ? "f32, f16 or bf16" : "f32");
          return WalkResult::interrupt();
        }
        format = wanted;
      }
      int64_t group = 0;
      if (format == "w4") {
        // A group must divide the input dim; a small model's rows may be shorter than the
        // requested group, so take gcd(K, group): the largest group dividing both.
        int64_t k = op.getType().getShape().back();
        group = std::gcd(k, int64_t(groupSize));
        if (group < 8 || group % 2 != 0) {
          if (warned.insert(op.getName()).second)
            op.emitWarning() << "input dim " << k << " and group " << int64_t(groupSize)
                             << " have no common group of 8 or more elements; stored as w8 "
                                "instead of w4 (try --group-size)";
          format = "w8";
          group = 0;
        }
      }
      OpBuilder b(op);
      op.setFormatAttr(b.getStringAttr(format));
      op.setGroupSizeAttr(b.getI64IntegerAttr(group));
      return WalkResult::advance();
    });
    if (result.wasInterrupted()) signalPassFailure();
  }
};

}  // namespace
