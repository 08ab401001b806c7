# lit configuration of the compiler pass tests: every *.mlir file here runs its RUN lines with
# dse-opt, dsc and FileCheck on the PATH.
import os
import lit.formats

config.name = "dse"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "fault", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.dse_test_exec_root
config.environment["PATH"] = os.pathsep.join(
    [config.dse_tools_dir, config.llvm_tools_dir, os.environ.get("PATH", "")])
config.substitutions.append(("%dse_src", config.dse_source_dir))
config.substitutions.append(("%enospc_lib", config.dse_enospc_lib))
