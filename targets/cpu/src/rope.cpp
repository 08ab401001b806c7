// rope_f32: pair j of every head is rotated by the angle in table row (start_pos + t).
#include "dse/cpu/rope.h"

#include "kernel_support.h"

namespace dse::cpu {

Status rope_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool) {
  const TensorView& x = call.operands[0];
  const TensorView& table = call.operands[1];
  const int64_t rows = rows_of(x, step);
  const int64_t n_heads = call.iparams[0], head_dim = call.iparams[1];
  const int64_t rot_offset = call.iparams[2], rot_dim = call.iparams[3];
  const bool interleaved = call.iparams[4] != 0;
  DSE_RETURN_IF_ERROR(check_positions("rope_f32", step, rows, table.shape[0], "rope table"));
  const int64_t half = rot_dim / 2;
  const int64_t width = x.shape[1];
  float* xs = data_of<float>(x);
  const float* tab = data_of<const float>(table);
  parallel_for(pool, 0, rows * n_heads, [&](int64_t i) {
    const int64_t t = i / n_heads, head = i % n_heads;
    const float* row = tab + row_position(step, t) * rot_dim;
    float* v = xs + t * width + head * head_dim + rot_offset;
    for (int64_t j = 0; j < half; ++j) {
      const int64_t i0 = interleaved ? 2 * j : j;
      const int64_t i1 = interleaved ? 2 * j + 1 : j + half;
      const float c = row[j], s = row[half + j];
      const float x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * c - x1 * s;
      v[i1] = x1 * c + x0 * s;
    }
  });
  return Status::Ok();
}

}  // namespace dse::cpu
