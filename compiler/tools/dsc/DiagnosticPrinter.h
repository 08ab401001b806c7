// Prints MLIR diagnostics as "dsc: error: <where>: <message>", where <where> is the config file or
// the weight / activation the diagnostic is about, instead of MLIR's raw location syntax.
#pragma once

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Location.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/raw_ostream.h"

namespace dse::dsc {

inline void describe_location(mlir::Location loc, llvm::raw_ostream& os) {
  if (auto named = llvm::dyn_cast<mlir::NameLoc>(loc)) {
    os << named.getName().getValue();
    if (auto file = llvm::dyn_cast<mlir::FileLineColLoc>(named.getChildLoc()))
      os << " (" << file.getFilename().getValue() << ")";
    return;
  }
  if (auto file = llvm::dyn_cast<mlir::FileLineColLoc>(loc)) {
    os << file.getFilename().getValue();
    if (file.getLine() > 0) os << ":" << file.getLine() << ":" << file.getColumn();
    return;
  }
  os << loc;
}

// Installs the printer on `context` for its lifetime. `tool` prefixes every line ("dsc").
inline void install_diagnostic_printer(mlir::MLIRContext& context, const char* tool) {
  context.getDiagEngine().registerHandler([tool](mlir::Diagnostic& d) {
    llvm::raw_ostream& os = llvm::errs();
    const char* kind = d.getSeverity() == mlir::DiagnosticSeverity::Error     ? "error"
                       : d.getSeverity() == mlir::DiagnosticSeverity::Warning ? "warning"
                       : d.getSeverity() == mlir::DiagnosticSeverity::Remark  ? "remark"
                                                                              : "note";
    os << tool << ": " << kind << ": ";
    describe_location(d.getLocation(), os);
    os << ": " << d << "\n";
    for (mlir::Diagnostic& note : d.getNotes()) {
      // "see current operation" dumps of whole ops are noise for users of dsc.
      if (llvm::StringRef(note.str()).starts_with("see current operation")) continue;
      os << "  note: " << note << "\n";
    }
    return mlir::success();
  });
}

}  // namespace dse::dsc
