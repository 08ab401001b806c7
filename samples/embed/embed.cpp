// embed_cpp: the same as embed_c with the C++ wrapper (dse.hpp).
//   embed_cpp MODEL.dse [PROMPT]
#include <cstdio>
#include <string>

#include "dse/dse.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: embed_cpp MODEL.dse [PROMPT]\n");
    return 2;
  }
  auto model = dse::Model::open(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "embed_cpp: %s\n", model.status().message().c_str());
    return 1;
  }
  auto session = dse::Session::create(*model);
  if (!session.ok()) {
    std::fprintf(stderr, "embed_cpp: %s\n", session.status().message().c_str());
    return 1;
  }
  dse_generate_params params = {};
  params.max_new_tokens = 16;
  std::string text;
  dse::Status st = session->generate(argc > 2 ? argv[2] : "a", params, [&](std::string_view piece) {
    text += piece;
    return true;
  });
  if (!st.ok()) {
    std::fprintf(stderr, "embed_cpp: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("%s\n", text.c_str());
  return 0;
}
