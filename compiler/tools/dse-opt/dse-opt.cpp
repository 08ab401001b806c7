// dse-opt: parses dsg/dsx IR, runs dsc passes by flag (--dse-fuse-weights, ...), prints the result.
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

#include "dse/compiler/Transforms/Passes.h"

int main(int argc, char** argv) {
  mlir::DialectRegistry registry;
  registry.insert<dse::dsg::DsgDialect, dse::dsx::DsxDialect, mlir::func::FuncDialect>();
  dse::registerDsePasses();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, "dse-opt: dsc pass driver\n", registry));
}
