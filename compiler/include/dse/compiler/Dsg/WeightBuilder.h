// One place that spells out every attribute of a dsg.weight, for the frontend and the passes.
#pragma once

#include <string>
#include <vector>

#include "mlir/IR/Builders.h"

#include "dse/compiler/Dsg/Dsg.h"

namespace dse::dsg {

struct WeightSpec {
  std::string name;       // slot name in the artifact
  std::string role;       // embed, norm, linear, bias, router, lm_head, expert, mla_absorb, rope_table
  std::string transform;  // importer WeightRecipe kind: copy, concat_rows, row_slice, ...
  std::vector<std::string> sources;
  int64_t row_begin = 0, row_end = 0, max_pos = 0;
  std::string format = "f32";
  int64_t group_size = 0;
};

inline WeightOp create_weight(mlir::OpBuilder& b, mlir::Location loc, mlir::RankedTensorType type,
                              const WeightSpec& spec) {
  llvm::SmallVector<mlir::Attribute> sources;
  for (const std::string& s : spec.sources) sources.push_back(b.getStringAttr(s));
  return WeightOp::create(b, loc, type, b.getStringAttr(spec.name), b.getStringAttr(spec.role),
                          b.getStringAttr(spec.transform), b.getArrayAttr(sources),
                          b.getI64IntegerAttr(spec.row_begin), b.getI64IntegerAttr(spec.row_end),
                          b.getI64IntegerAttr(spec.max_pos), b.getStringAttr(spec.format),
                          b.getI64IntegerAttr(spec.group_size));
}

// The spec of an existing weight op (to derive a fused one from it).
inline WeightSpec spec_of(WeightOp op) {
  WeightSpec spec;
  spec.name = op.getName().str();
  spec.role = op.getRole().str();
  spec.transform = op.getTransform().str();
  for (mlir::Attribute a : op.getSources()) spec.sources.push_back(mlir::cast<mlir::StringAttr>(a).str());
  spec.row_begin = op.getRowBegin();
  spec.row_end = op.getRowEnd();
  spec.max_pos = op.getMaxPos();
  spec.format = op.getFormat().str();
  spec.group_size = op.getGroupSize();
  return spec;
}

}  // namespace dse::dsg
