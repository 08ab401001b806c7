// embed_f32_<w>: copies (and widens to f32) one table row per token.
#include "dse/cpu/embed.h"

#include <cstring>
#include <string>

#include "kernel_support.h"

namespace dse::cpu {
namespace {

template <DType D>
Status embed(const char* name, const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& tokens = call.operands[0];
  const TensorView& table = call.operands[1];
  const TensorView& out = call.operands[2];
  const int64_t rows = rows_of(tokens, step);
  const int64_t vocab = table.shape[0];
  const int64_t hidden = table.shape[1];
  const int32_t* ids = data_of<const int32_t>(tokens);
  // Check every id first, so that a bad id leaves no half-written output behind.
  for (int64_t t = 0; t < rows; ++t) {
    if (ids[t] < 0 || ids[t] >= vocab) {
      return Status(StatusCode::out_of_range,
                    std::string(name) + ": token id " + std::to_string(ids[t]) + " at row " +
                        std::to_string(t) + " is outside the vocabulary [0, " + std::to_string(vocab) +
                        "); check the tokenizer and the prompt's token ids");
    }
  }
  float* dst = data_of<float>(out);
  parallel_for(pool, 0, rows, [&](int64_t t) {
    const int64_t id = ids[t];
    float* o = dst + t * hidden;
    if constexpr (D == DType::f32) {
      std::memcpy(o, data_of<const float>(table) + id * hidden, size_t(hidden) * 4);
    } else {
      const uint16_t* src = data_of<const uint16_t>(table) + id * hidden;
      for (int64_t h = 0; h < hidden; ++h) o[h] = D == DType::f16 ? load_f16(src[h]) : load_bf16(src[h]);
    }
  });
  return Status::Ok();
}

}  // namespace

Status embed_f32_f32(const KernelCall& c, const StepInfo& s, ThreadPool* p) { return embed<DType::f32>("embed_f32_f32", c, s, p); }
Status embed_f32_f16(const KernelCall& c, const StepInfo& s, ThreadPool* p) { return embed<DType::f16>("embed_f32_f16", c, s, p); }
Status embed_f32_bf16(const KernelCall& c, const StepInfo& s, ThreadPool* p) { return embed<DType::bf16>("embed_f32_bf16", c, s, p); }

}  // namespace dse::cpu
