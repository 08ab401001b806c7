// The --bench mode: chunked encode over a text file, best of N passes.
#include "bench.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

#include "dse/tokenizer/utf8.h"

namespace dse::samples {

Status run_encode_bench(tokenizer::Tokenizer& tok, const std::string& path, int repeats) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(StatusCode::not_found, "--bench: cannot open " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string raw = ss.str();
  std::string text;
  tokenizer::append_utf8_lossy(raw, text);

  constexpr size_t kChunkBytes = 16384;
  std::vector<std::string_view> chunks;
  for (size_t begin = 0, pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (pos - begin >= kChunkBytes || pos == text.size()) {
      chunks.emplace_back(text.data() + begin, pos - begin);
      begin = pos;
    }
  }

  std::vector<int32_t> ids;
  size_t total_ids = 0;
  auto pass = [&]() -> Status {
    total_ids = 0;
    for (std::string_view c : chunks) {
      DSE_RETURN_IF_ERROR(tok.encode(c, false, ids));
      total_ids += ids.size();
    }
    return Status::Ok();
  };
  DSE_RETURN_IF_ERROR(pass());  // warm-up: fills the word cache as HF's first pass does
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    DSE_RETURN_IF_ERROR(pass());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
  }
  std::printf("bench: %zu bytes in %zu chunks, %zu ids, best of %d passes %.4f s: %.2f MB/s, "
              "%.0f tokens/s (one thread)\n",
              text.size(), chunks.size(), total_ids, repeats, best, text.size() / best / 1e6,
              total_ids / best);
  return Status::Ok();
}

}  // namespace dse::samples
