// The three dsc commands and their options (llvm::cl subcommands; see dsc --help).
#pragma once

#include "llvm/Support/CommandLine.h"

namespace dse::dsc {

extern llvm::cl::SubCommand plan_command;
extern llvm::cl::SubCommand inspect_command;

int run_compile();  // dsc MODEL --target T --precision P -o OUT ...
int run_plan();     // dsc plan MODEL_OR_CONFIG
int run_inspect();  // dsc inspect FILE.dse

// Shared checks of option values; print a message naming the flag and return false.
bool check_precision(const std::string& precision, bool allow_empty);

}  // namespace dse::dsc
