// rope_f32: pair j of every head rotated by table row row_position(step, t).
#include "rope.cuh"

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 128;

// grid (ceil(n_heads * rot_dim / 2 / kThreads), token_cap): one thread per rotated pair, so each
// thread makes one memory round trip (a token's 2048 pairs in 16 blocks, not 16 passes of one).
__global__ void __launch_bounds__(kThreads) rope_kernel(float* x, const float* table, int64_t width, int n_heads,
                                                        int head_dim, int rot_offset, int rot_dim, bool interleaved,
                                                        int64_t table_rows, int64_t cap, const StepInfo* step,
                                                        GpuErrorRecord* err) {
  grid_dependency_sync();
  const int64_t rows = step_rows(step, cap);
  const int64_t t = blockIdx.y;
  if (t >= rows) return;
  if (!positions_ok(step, rows, table_rows, err, GpuOp::rope)) return;
  const int half = rot_dim / 2;
  const int i = int(blockIdx.x) * kThreads + int(threadIdx.x);
  if (i >= n_heads * half) return;
  const int head = i / half, j = i % half;
  const float* row = table + row_position(*step, t) * rot_dim;
  float* v = x + t * width + head * head_dim + rot_offset;
  const int i0 = interleaved ? 2 * j : j;
  const int i1 = interleaved ? 2 * j + 1 : j + half;
  const float c = row[j], s = row[half + j];
  const float x0 = v[i0], x1 = v[i1];
  v[i0] = x0 * c - x1 * s;
  v[i1] = x1 * c + x0 * s;
}

// Decode fusion of rope(q), rope(k), kv_store(k), kv_store(v) (fusion.h, "rope"): one thread per
// rotated pair of q, per rotated pair of k (stored to k and to its cache row) and per element of
// v (stored to its cache row). Only for full-width rotation (rot_offset 0, rot_dim = head_dim), so
// every k element is rotated, and F32/F16 caches. Checks as the unfused calls in their order: a
// position past the table is rope's error, past a cache kv_store's; nothing is written then.
struct RopeStoreArgs {
  float* q;
  float* k;
  const float* v;
  const float* table;
  void* k_cache;
  void* v_cache;
  int q_heads, k_heads, head_dim;
  int64_t v_width;
  bool interleaved, k_half, v_half;
  int64_t table_rows, k_cache_rows, v_cache_rows;
  const StepInfo* step;
  GpuErrorRecord* err;
};

__device__ __forceinline__ void store_cache(void* cache, bool half, int64_t i, float v) {
  if (half) static_cast<uint16_t*>(cache)[i] = f32_to_f16_bits(v);
  else static_cast<float*>(cache)[i] = v;
}

__global__ void __launch_bounds__(kThreads) rope_store_kernel(RopeStoreArgs a) {
  grid_dependency_sync();
  const int64_t rows = step_rows(a.step, 1);
  if (rows < 1) return;
  if (!positions_ok(a.step, rows, a.table_rows, a.err, GpuOp::rope) ||
      !positions_ok(a.step, rows, slot_rows(*a.step, a.k_cache_rows), a.err, GpuOp::kv_store) ||
      !positions_ok(a.step, rows, slot_rows(*a.step, a.v_cache_rows), a.err, GpuOp::kv_store))
    return;
  // The one row's position (rope table row) and its cache rows (its slot's row for it).
  const int64_t pos = row_position(*a.step, 0);
  const int64_t k_row = cache_row(*a.step, 0, a.k_cache_rows), v_row = cache_row(*a.step, 0, a.v_cache_rows);
  const int half = a.head_dim / 2;
  const int64_t q_pairs = int64_t(a.q_heads) * half, k_pairs = int64_t(a.k_heads) * half;
  int64_t i = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (i < q_pairs + k_pairs) {
    const bool is_q = i < q_pairs;
    const int64_t p = is_q ? i : i - q_pairs;
    const int head = int(p / half), j = int(p % half);
    const float* row = a.table + pos * a.head_dim;
    const int i0 = a.interleaved ? 2 * j : j;
    const int i1 = a.interleaved ? 2 * j + 1 : j + half;
    float* x = (is_q ? a.q : a.k) + int64_t(head) * a.head_dim;
    const float c = row[j], s = row[half + j];
    const float x0 = x[i0], x1 = x[i1];
    const float y0 = x0 * c - x1 * s, y1 = x1 * c + x0 * s;
    x[i0] = y0;
    x[i1] = y1;
    if (!is_q) {
      const int64_t base = k_row * int64_t(a.k_heads) * a.head_dim + int64_t(head) * a.head_dim;
      store_cache(a.k_cache, a.k_half, base + i0, y0);
      store_cache(a.k_cache, a.k_half, base + i1, y1);
    }
    return;
  }
  i -= q_pairs + k_pairs;
  if (i < a.v_width) store_cache(a.v_cache, a.v_half, v_row * a.v_width + i, a.v[i]);
}

}  // namespace

bool rope_store_applies(const KernelCall& rope_q, const KernelCall& rope_k, const KernelCall& store_k,
                        const KernelCall& store_v) {
  auto full_width = [](const KernelCall& r) {
    return r.operands[0].shape[0] == 1 && r.iparams[2] == 0 && r.iparams[3] == r.iparams[1] && r.iparams[1] % 2 == 0;
  };
  auto plain_cache = [](const TensorView& c) { return c.dtype == DType::f32 || c.dtype == DType::f16; };
  const TensorView &q = rope_q.operands[0], &k = rope_k.operands[0];
  return full_width(rope_q) && full_width(rope_k) && rope_q.iparams[1] == rope_k.iparams[1] &&
         rope_q.iparams[4] == rope_k.iparams[4] && rope_q.operands[1].data == rope_k.operands[1].data &&
         store_k.operands[0].data == k.data && store_k.operands[0].shape[0] == 1 && store_v.operands[0].shape[0] == 1 &&
         plain_cache(store_k.operands[1]) && plain_cache(store_v.operands[1]) && q.data != k.data &&
         store_k.operands[1].shape[1] == k.shape[1] && store_v.operands[1].shape[1] == store_v.operands[0].shape[1] &&
         k.shape[1] == rope_k.iparams[0] * rope_k.iparams[1];
}

Status launch_rope_store(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  // Operands: q, table, k, k_cache, v, v_cache. iparams: q_heads, k_heads, head_dim, interleaved.
  const TensorView* op = call.operands;
  RopeStoreArgs a;
  a.q = static_cast<float*>(op[0].data);
  a.table = static_cast<const float*>(op[1].data);
  a.k = static_cast<float*>(op[2].data);
  a.k_cache = op[3].data;
  a.v = static_cast<const float*>(op[4].data);
  a.v_cache = op[5].data;
  a.q_heads = int(call.iparams[0]);
  a.k_heads = int(call.iparams[1]);
  a.head_dim = int(call.iparams[2]);
  a.interleaved = call.iparams[3] != 0;
  a.v_width = op[4].shape[1];
  a.k_half = op[3].dtype == DType::f16;
  a.v_half = op[5].dtype == DType::f16;
  a.table_rows = op[1].shape[0];
  a.k_cache_rows = op[3].shape[0];
  a.v_cache_rows = op[5].shape[0];
  a.step = step.d_step;
  a.err = step.d_error;
  const int64_t work = (int64_t(a.q_heads) + a.k_heads) * (a.head_dim / 2) + a.v_width;
  launch_kernel(rope_store_kernel, unsigned(ceil_div(work, kThreads)), kThreads, 0, stream, a);
  return launch_status("rope_f32 + kv_store (fused)");
}

Status launch_rope_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& x = call.operands[0];
  const TensorView& table = call.operands[1];
  if (x.shape[0] <= 0) return Status::Ok();
  const int64_t pairs = call.iparams[0] * (call.iparams[3] / 2);
  if (pairs <= 0) return Status::Ok();
  const dim3 grid(unsigned(ceil_div(pairs, kThreads)), unsigned(x.shape[0]));
  launch_kernel(rope_kernel, grid, kThreads, 0, stream, static_cast<float*>(x.data),
                static_cast<const float*>(table.data), x.shape[1], int(call.iparams[0]), int(call.iparams[1]),
                int(call.iparams[2]), int(call.iparams[3]), call.iparams[4] != 0, table.shape[0], x.shape[0],
                step.d_step, step.d_error);
  return launch_status("rope_f32");
}

}  // namespace dse::gpu
