// dse_write_tiny_model: writes the hand-made successor model of the runtime tests to a file, so
// that scripts (scripts/check-embed) have an artifact to run without the compiler.
//   dse_write_tiny_model OUT.dse [--zstd]
#include <cstdio>
#include <cstring>

#include "tiny_model.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: dse_write_tiny_model OUT.dse [--zstd]\n");
    return 2;
  }
  dse::test::TinyModelSpec spec = dse::test::successor_model(dse::test::default_successors());
  if (argc > 2 && std::strcmp(argv[2], "--zstd") == 0) spec.codec = dse::fb::Codec::Zstd;
  const dse::Status st = dse::test::write_tiny_model(argv[1], spec);
  if (!st.ok()) {
    std::fprintf(stderr, "dse_write_tiny_model: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
