// rope_f32: pair j of every head rotated by table row start_pos + t.
#include "rope.cuh"

#include "common.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 128;

// grid (ceil(n_heads * rot_dim / 2 / kThreads), token_cap): one thread per rotated pair, so each
// thread makes one memory round trip (a token's 2048 pairs in 16 blocks, not 16 passes of one).
__global__ void __launch_bounds__(kThreads) rope_kernel(float* x, const float* table, int64_t width, int n_heads,
                                                        int head_dim, int rot_offset, int rot_dim, bool interleaved,
                                                        int64_t table_rows, int64_t cap, const StepInfo* step,
                                                        GpuErrorRecord* err) {
  const int64_t rows = step_rows(step, cap);
  const int64_t t = blockIdx.y;
  if (t >= rows) return;
  if (!positions_fit(step, rows, table_rows)) {
    if (t == 0 && blockIdx.x == 0 && threadIdx.x == 0)
      record_error(err, StatusCode::out_of_range, GpuOp::rope, bad_position(step, rows), table_rows, 0);
    return;
  }
  const int half = rot_dim / 2;
  const int i = int(blockIdx.x) * kThreads + int(threadIdx.x);
  if (i >= n_heads * half) return;
  const int head = i / half, j = i % half;
  const float* row = table + (step->start_pos + t) * rot_dim;
  float* v = x + t * width + head * head_dim + rot_offset;
  const int i0 = interleaved ? 2 * j : j;
  const int i1 = interleaved ? 2 * j + 1 : j + half;
  const float c = row[j], s = row[half + j];
  const float x0 = v[i0], x1 = v[i1];
  v[i0] = x0 * c - x1 * s;
  v[i1] = x1 * c + x0 * s;
}

}  // namespace

Status launch_rope_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& x = call.operands[0];
  const TensorView& table = call.operands[1];
  if (x.shape[0] <= 0) return Status::Ok();
  const int64_t pairs = call.iparams[0] * (call.iparams[3] / 2);
  if (pairs <= 0) return Status::Ok();
  const dim3 grid(unsigned(ceil_div(pairs, kThreads)), unsigned(x.shape[0]));
  rope_kernel<<<grid, kThreads, 0, stream>>>(static_cast<float*>(x.data), static_cast<const float*>(table.data),
                                             x.shape[1], int(call.iparams[0]), int(call.iparams[1]),
                                             int(call.iparams[2]), int(call.iparams[3]), call.iparams[4] != 0,
                                             table.shape[0], x.shape[0], step.d_step, step.d_error);
  return launch_status("rope_f32");
}

}  // namespace dse::gpu
