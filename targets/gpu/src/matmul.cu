// matmul_f32_<w>: weight-streaming GEMV kernels (decode) that also serve small prefill chunks.
#include "matmul.cuh"

#include <algorithm>
#include <cstdlib>

#include "common.cuh"
#include "gemm_tc.cuh"
#include "gemv_w4_half.cuh"
#include "gemv_w4_q8.cuh"
#include "launch.cuh"
#include "weight_dot.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 128;  // 4 logical warps; a multiple of 64 for wave64 targets

struct GemvArgs {
  const float* x;
  WeightMatrix w;
  const float* bias;
  float* out;
  int64_t n;          // output columns
  int64_t x_cap;      // token capacity of x
  int64_t token_slice;  // tokens per blockIdx.y (a multiple of the kernel's TB)
  const StepInfo* step;
};

// One weight matrix of a decode launch. Several matrices that read the same x (q, k and v) share
// one launch: warps [first_warp, next part's first_warp) compute this part's rows.
struct GemvPart {
  WeightMatrix w;
  const float* bias = nullptr;
  float* out = nullptr;
  int64_t n = 0;
  int64_t first_warp = 0;
};

constexpr int kMaxParts = 3;

struct DecodeArgs {
  GemvPart part[kMaxParts];
  int parts = 1;
  int64_t warps = 0;  // all parts
  const float* x = nullptr;
  const StepInfo* step = nullptr;
  // Fusions (fused_matmul_f32_<w>, see matmul.cuh); null / 0 when absent.
  const float* norm_w = nullptr;  // rms_norm prologue: x is the norm's input, norm_w its weight,
  float* norm_out = nullptr;      // norm_out its output (written too, a slice per warp)
  double eps = 0.0;
  const float* residual_in = nullptr;  // add epilogue (one part): residual_out = residual_in + out
  float* residual_out = nullptr;
};

// The matrix warp w computes (kMulti: the last part whose first warp is <= w), chosen by selects
// rather than a dynamic index into the parameter block.
template <bool kMulti>
__device__ __forceinline__ const GemvPart& part_of(const DecodeArgs& a, int64_t w) {
  if constexpr (!kMulti) {
    return a.part[0];
  } else {
    const int p = (a.parts > 2 && w >= a.part[2].first_warp) ? 2 : ((a.parts > 1 && w >= a.part[1].first_warp) ? 1 : 0);
    return p == 0 ? a.part[0] : (p == 1 ? a.part[1] : a.part[2]);
  }
}

// Rows n0 .. n0 + R - 1 of a matrix of n rows, those past the end clamped to its last row so that
// loads stay in bounds (their results are not stored).
template <int R>
__device__ __forceinline__ void clamp_rows(int64_t n0, int64_t n, int64_t (&rows)[R]) {
#pragma unroll
  for (int r = 0; r < R; ++r) rows[r] = n0 + r < n ? n0 + r : n - 1;
}

// A decode GEMV's result for row n of `part`, and with the add epilogue the residual sum.
template <bool kResidual>
__device__ __forceinline__ void store_row(const DecodeArgs& a, const GemvPart& part, int64_t n, float v) {
  part.out[n] = v;
  if constexpr (kResidual) a.residual_out[n] = a.residual_in[n] + v;
}

// Activation source of the rms_norm prologue: x * w, and the lane's share of sum(x^2). The dot
// product is multiplied by 1 / rms afterwards: W (w * x / rms) = (W (w * x)) / rms. A lane sums at
// most K / 32 squares in f32 (the warp total is taken in double, as rms_norm_f32 sums): double
// accumulators in the inner loop cost the wide GEMVs registers and spills.
struct NormedX {
  const float* x;
  const float* w;
  float ss = 0.0f;
  __device__ __forceinline__ float4 load(int, int64_t k, bool live) {
    const float4 v = load_shared16(x + k), g = load_shared16(w + k);
    const float s = fmaf(v.x, v.x, fmaf(v.y, v.y, fmaf(v.z, v.z, v.w * v.w)));
    ss += live ? s : 0.0f;
    return make_float4(v.x * g.x, v.y * g.y, v.z * g.z, v.w * g.w);
  }
};

// Most rows per warp: enough that the x slice a lane loads is reused across rows (x is read
// from L1 once per R weight rows: for w4 at R = 1 that is 8 bytes of x per byte of weights, near
// the L1's limit at full HBM speed), few enough to keep the decoded values in registers.
template <WeightFormat F>
constexpr int max_rows_per_warp() {
  return (F == WeightFormat::f32 || F == WeightFormat::f16 || F == WeightFormat::bf16) ? 2 : 4;
}

// Multiprocessors of the current device.
int sm_count() { return current_device().multiprocessors; }

// Prefill chunks that do not take the tensor-core path, and decode shapes off the 16-byte path:
// TB tokens per pass over the weights; blockIdx.y takes tokens [y * token_slice, (y + 1) *
// token_slice), so that a matrix of few rows still fills the GPU (V2-Lite's f32 router, 64 rows:
// 8 blocks walked a 512-token chunk in 1.8 ms per layer).
template <WeightFormat F, int R, int TB, int U, bool kVec>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvArgs a) {
  grid_dependency_sync();
  const int lane = threadIdx.x % kLanes;
  const int64_t warp = int64_t(blockIdx.x) * (kThreads / kLanes) + threadIdx.x / kLanes;
  const int64_t n0 = warp * R;
  if (n0 >= a.n) return;
  int64_t wrow[R];
  clamp_rows(n0, a.n, wrow);
  const int64_t k = a.w.k;
  const int64_t t_begin = int64_t(blockIdx.y) * a.token_slice;
  const int64_t step_end = step_rows(a.step, a.x_cap), slice_end = t_begin + a.token_slice;
  const int64_t rows = step_end < slice_end ? step_end : slice_end;
  for (int64_t t0 = t_begin; t0 < rows; t0 += TB) {
    const int n_tok = int(rows - t0 < TB ? rows - t0 : TB);
    float acc[R][TB];
#pragma unroll
    for (int r = 0; r < R; ++r)
#pragma unroll
      for (int t = 0; t < TB; ++t) acc[r][t] = 0.0f;
    if constexpr (kVec) lane_dot_vec<F, R, TB, U>(a.w, wrow, a.x + t0 * k, k, n_tok, lane, acc);
    else lane_dot_scalar<F, R, TB, U>(a.w, wrow, a.x + t0 * k, k, n_tok, lane, acc);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const float s = row_scale<F>(a.w, wrow[r]);
      const float b = a.bias ? a.bias[wrow[r]] : 0.0f;
#pragma unroll
      for (int t = 0; t < TB; ++t) {
        const float v = warp_sum(acc[r][t]) * s + b;
        if (lane == 0 && t < n_tok && n0 + r < a.n) a.out[(t0 + t) * a.n + n0 + r] = v;
      }
    }
  }
}

// Decode (launched only for a token capacity of 1, 16-byte path): row 0 of x always exists, so
// the weights are loaded before n_tokens is known and the read of the device step overlaps them
// instead of delaying them. kNorm: the rms_norm prologue; kResidual: the add epilogue.
// kMulti: several matrices (the part is chosen per warp); one matrix reads its fields straight
// from the parameter block (the selects cost the single-matrix GEMV 6% on a 1.5B decode step).
template <WeightFormat F, int R, int U, bool kNorm, bool kResidual, bool kMulti>
__global__ void __launch_bounds__(kThreads) gemv_decode_kernel(DecodeArgs a) {
  grid_dependency_sync();
  const int lane = threadIdx.x % kLanes;
  const int64_t warp = int64_t(blockIdx.x) * (kThreads / kLanes) + threadIdx.x / kLanes;
  if (warp >= a.warps) return;
  const GemvPart& part = part_of<kMulti>(a, warp);
  const int64_t n0 = (warp - part.first_warp) * R;
  int64_t wrow[R];
  clamp_rows(n0, part.n, wrow);
  const int64_t n_tokens = a.step->n_tokens;
  float acc[R][1];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r][0] = 0.0f;
  float inv = 1.0f;
  if constexpr (kNorm) {
    NormedX xs{a.x, a.norm_w};
    lane_dot_vec_from<F, R, 1, U>(part.w, wrow, xs, lane, acc);
    // Every warp sums the same lanes in the same order: all get the same factor, equal to
    // rms_norm_f32's up to the order of the double sum.
    const int64_t k = part.w.k;
    inv = rms_inverse(warp_sum(double(xs.ss)), k, a.eps);
    // This warp's slice of the norm's output, for the other readers of it.
    const int64_t n4 = k / 4, per = ceil_div(n4, a.warps);
    const int64_t end = n4 < (warp + 1) * per ? n4 : (warp + 1) * per;
    if (n_tokens >= 1)
      for (int64_t i = warp * per + lane; i < end; i += kLanes) {
        const float4 v = reinterpret_cast<const float4*>(a.x)[i], g = reinterpret_cast<const float4*>(a.norm_w)[i];
        reinterpret_cast<float4*>(a.norm_out)[i] =
            make_float4(g.x * (v.x * inv), g.y * (v.y * inv), g.z * (v.z * inv), g.w * (v.w * inv));
      }
  } else {
    lane_dot_vec<F, R, 1, U>(part.w, wrow, a.x, part.w.k, 1, lane, acc);
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    float dot = warp_sum(acc[r][0]);
    if constexpr (kNorm) dot *= inv;
    const float v = dot * row_scale<F>(part.w, wrow[r]) + (part.bias ? part.bias[wrow[r]] : 0.0f);
    if (lane == 0 && n_tokens >= 1 && n0 + r < part.n) store_row<kResidual>(a, part, n0 + r, v);
  }
}

// The int4 decode GEMV in packed f16 arithmetic (gemv_w4_half.cuh); same grid, parts and epilogue
// as gemv_decode_kernel. x is staged once per block in dynamic shared memory (half_stage_bytes).
template <int R, int U, bool kResidual, bool kMulti>
__global__ void __launch_bounds__(kThreads) gemv_w4_half_kernel(DecodeArgs a) {
  extern __shared__ uint4 xs_half[];
  __shared__ float red[kThreads / kLanes];
  const int lane = threadIdx.x % kLanes;
  const int64_t warp = int64_t(blockIdx.x) * (kThreads / kLanes) + threadIdx.x / kLanes;
  // Warps past the last row still help stage x (the block synchronises once), then leave.
  const bool active = warp < a.warps;
  const int64_t wq = active ? warp : 0;
  const GemvPart& part = part_of<kMulti>(a, wq);
  const int64_t n0 = (wq - part.first_warp) * R;
  int64_t wrow[R];
  clamp_rows(n0, part.n, wrow);
  const int64_t nvec = part.w.k / 32;
  // The first weights are on their way while x is staged.
  W4Batch<R, U> batch;
  batch.load(part.w, wrow, lane, nvec);
  // Weights are never written by a kernel: they are loaded before the previous kernel has finished.
  grid_dependency_sync();
  const float x_factor = stage_x_half(a.x, part.w.k, xs_half, red);
  const int64_t n_tokens = a.step->n_tokens;
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  for (int64_t v0 = lane; v0 < nvec; v0 += int64_t(kLanes) * U) {
    if (v0 != lane) batch.load(part.w, wrow, v0, nvec);
    batch.accumulate(xs_half, v0, nvec, acc);
  }
  if (!active) return;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const float v = warp_sum(acc[r]) * x_factor + (part.bias ? part.bias[wrow[r]] : 0.0f);
    if (lane == 0 && n_tokens >= 1 && n0 + r < part.n) store_row<kResidual>(a, part, n0 + r, v);
  }
}

// Blocks of the persistent GEMV below: 8 warps. x is staged once per block, so the more warps
// share it, the fewer bytes of x are read per byte of weights (with 4-warp blocks, as many as fit,
// the 7B's 11008-wide down projection read twice as many bytes of x from L2 as of weights).
constexpr int kStreamThreads = 256;

// The same GEMV as a persistent grid (the default): as many blocks as fit on the multiprocessors
// stage x once and then stream row groups ("tasks", R rows each) until the matrix is done, loading
// the next chunk of weights (U vectors of R rows per lane) while the current one is multiplied.
// The one-block-per-task form stages x again for every 4 tasks (for 1.5B shapes as many bytes of
// x from L2 as of weights) and waits for each task's loads before issuing the next ones.
// kNorm: the rms_norm prologue (stage_rms_norm_half), so the norm costs no launch of its own.
// kQ8: x staged as int8 vectors and the dot products in dp4a (gemv_w4_q8.cuh; opt-in, not yet run
// on a GPU). Three blocks per multiprocessor (<= 85 registers): ptxas gave the two-row instances
// 92, which leaves two, and the kernel lives on the weight loads each resident warp has in flight.
template <int R, int U, bool kNorm, bool kResidual, bool kMulti, bool kQ8>
__global__ void __launch_bounds__(kStreamThreads, 3) gemv_w4_stream_kernel(DecodeArgs a) {
  extern __shared__ uint4 xs_half[];
  __shared__ float red[kStreamThreads / kLanes];
  __shared__ double red_sum[kNorm ? kStreamThreads / kLanes : 1];
  const int lane = threadIdx.x % kLanes;
  const int64_t stride = int64_t(gridDim.x) * (kStreamThreads / kLanes);
  const int nvec = int(a.part[0].w.k / 32);  // every part reads the same x: one K
  constexpr int kChunk = kLanes * U;
  // The rows of task t; a task past the last loads task 0's rows and stores nothing.
  auto rows_of = [&](int64_t t, int64_t (&rows)[R]) {
    const int64_t q = t < a.warps ? t : 0;
    const GemvPart& part = part_of<kMulti>(a, q);
    clamp_rows((q - part.first_warp) * R, part.n, rows);
  };
  // Loads the chunk at vector v0 of task t's rows.
  auto load = [&](W4Batch<R, U>& b, int64_t t, const int64_t(&rows)[R], int v0) {
    b.load_from(part_of<kMulti>(a, t < a.warps ? t : 0).w, rows, v0, nvec);
  };
  int64_t task = int64_t(blockIdx.x) * (kStreamThreads / kLanes) + threadIdx.x / kLanes;
  int vb = 0;  // first vector of the current chunk (the same in every lane)
  int64_t wrow[R];
  rows_of(task, wrow);
  W4Batch<R, U> cur;
  load(cur, task, wrow, vb + lane);
  grid_dependency_sync();  // weights are never written by a kernel; x is
  const int64_t n_tokens = a.step->n_tokens;
  float x_factor = 1.0f;
  const Q8X xq = Q8X::at(xs_half, nvec);
  if constexpr (kQ8)
    stage_x_q8(a.x, kNorm ? a.norm_w : nullptr, a.eps, a.part[0].w.k, xq, red_sum, a.norm_out, n_tokens >= 1);
  else if constexpr (kNorm)
    x_factor = stage_rms_norm_half(a.x, a.norm_w, a.eps, a.part[0].w.k, xs_half, red, red_sum, a.norm_out,
                                   n_tokens >= 1);
  else
    x_factor = stage_x_half(a.x, a.part[0].w.k, xs_half, red);
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  while (task < a.warps) {
    // The next chunk: the rest of this task's rows, else the next task's first vectors.
    const bool last_chunk = vb + kChunk >= nvec;
    int64_t next_task = task;
    int next_vb = vb + kChunk;
    int64_t next_rows[R];
#pragma unroll
    for (int r = 0; r < R; ++r) next_rows[r] = wrow[r];
    if (last_chunk) {
      next_task = task + stride;
      next_vb = 0;
      rows_of(next_task, next_rows);
    }
    W4Batch<R, U> nxt;
    if (next_task < a.warps) load(nxt, next_task, next_rows, next_vb + lane);
    if constexpr (kQ8) accumulate_q8(cur, xq, vb + lane, nvec, acc);
    else cur.accumulate(xs_half, vb + lane, nvec, acc);
    if (last_chunk) {
      const GemvPart& part = part_of<kMulti>(a, task);
      const int64_t n0 = (task - part.first_warp) * R;
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float v = warp_sum(acc[r]) * x_factor + (part.bias ? part.bias[wrow[r]] : 0.0f);
        if (lane == 0 && n_tokens >= 1 && n0 + r < part.n) store_row<kResidual>(a, part, n0 + r, v);
        acc[r] = 0.0f;
      }
    }
    cur = nxt;
    task = next_task;
    vb = next_vb;
#pragma unroll
    for (int r = 0; r < R; ++r) wrow[r] = next_rows[r];
  }
}

// The int4 GEMV for long rows and few of them (the down projections: 1.5B 1536 x 8960, 7B
// 4096 x 11008), split over K inside a block. The persistent kernel above gives such a matrix
// one row per warp: the 1.5B's 1536 rows fill half the resident warps, each walks its row in
// three dependent chunks, and every block stages the whole 35 KB x (as many bytes from L2 as the
// weights): 13.4 us, 13% of the bandwidth (kernel bench, H200). Here warp w of a block owns the
// w-th eighth of K for the whole kernel: it stages only that slice of x, with its own f16 factor
// and no block barrier, and for each of the block's row groups (R rows) computes its slice's
// partial dots; the block then adds the eight partials in warp order (deterministic) and warp 0
// stores. One barrier per row group; the partials are double-buffered so that it is the only one.
constexpr int kSplitWarps = kStreamThreads / kLanes;

template <int R, int U, bool kResidual>
__global__ void __launch_bounds__(kStreamThreads, 2) gemv_w4_splitk_kernel(DecodeArgs a) {
  extern __shared__ uint4 xs_half[];
  __shared__ float partial[2][kSplitWarps][R];
  const GemvPart& part = a.part[0];
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes;
  const int nvec = int(part.w.k / 32);
  const int v_begin = warp * nvec / kSplitWarps, v_end = (warp + 1) * nvec / kSplitWarps;
  const int64_t row_groups = ceil_div(part.n, R);
  auto load = [&](W4Batch<R, U>& b, int64_t group, int v0) {
    int64_t rows[R];
    clamp_rows((group < row_groups ? group : 0) * R, part.n, rows);
    b.load_from(part.w, rows, v0, v_end);
  };
  constexpr int kChunk = kLanes * U;
  int64_t group = blockIdx.x;
  int vb = v_begin;
  W4Batch<R, U> cur;
  load(cur, group, vb + lane);
  grid_dependency_sync();  // weights are never written by a kernel; x is
  const int64_t n_tokens = a.step->n_tokens;
  const float x_factor = stage_x_half_slice(a.x, 4 * int64_t(v_begin), 4 * int64_t(v_end), nvec, xs_half, lane);
  sync_warp();
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  int parity = 0;
  while (group < row_groups) {
    const bool last_chunk = vb + kChunk >= v_end;
    const int64_t next_group = last_chunk ? group + gridDim.x : group;
    const int next_vb = last_chunk ? v_begin : vb + kChunk;
    W4Batch<R, U> nxt;
    if (next_group < row_groups) load(nxt, next_group, next_vb + lane);
    cur.accumulate_until(xs_half, vb + lane, v_end, nvec, acc);
    if (last_chunk) {
#pragma unroll
      for (int r = 0; r < R; ++r) {
        const float p = warp_sum(acc[r]) * x_factor;
        if (lane == 0) partial[parity][warp][r] = p;
        acc[r] = 0.0f;
      }
      __syncthreads();
      if (warp == 0 && lane < R) {
        const int64_t row = group * R + lane;
        float v = 0.0f;
#pragma unroll
        for (int w = 0; w < kSplitWarps; ++w) v += partial[parity][w][lane];
        if (row < part.n) {
          v += part.bias ? part.bias[row] : 0.0f;
          if (n_tokens >= 1) store_row<kResidual>(a, part, row, v);
        }
      }
      parity ^= 1;
    }
    cur = nxt;
    group = next_group;
    vb = next_vb;
  }
}

// Which int4 decode GEMV runs (DSE_GPU_GEMV_W4): the persistent packed-f16 kernel by default,
// "block" the packed-f16 kernel with one block per 4 tasks, "f32" the f32 kernel (kept for
// comparison and as the reference of the f16 ones). The f16 kernels need K % 32 == 0 and
// K <= 19648 (x and its offset terms must fit the 48 KiB of shared memory a launch gets without
// opting in to more).
// "dp4a" the persistent kernel against int8 activations (gemv_w4_q8.cuh; opt-in until its speed
// and accuracy are measured). Read at every launch, so that tests can switch it.
enum class W4Gemv { stream, stream_q8, block, f32 };

W4Gemv w4_gemv(int64_t k) {
  W4Gemv chosen = W4Gemv::stream;
  if (env_is("DSE_GPU_GEMV_W4", "f32")) chosen = W4Gemv::f32;
  if (env_is("DSE_GPU_GEMV_W4", "block")) chosen = W4Gemv::block;
  if (env_is("DSE_GPU_GEMV_W4", "dp4a")) chosen = W4Gemv::stream_q8;
  return k % 32 == 0 && half_stage_bytes(k) <= kHalfStageSmemLimit ? chosen : W4Gemv::f32;
}

// Tasks of R rows over all parts, with each part's first task; returns the count.
template <int R>
int64_t assign_tasks(DecodeArgs& a) {
  a.warps = 0;
  for (int j = 0; j < a.parts; ++j) {
    a.part[j].first_warp = a.warps;
    a.warps += ceil_div(a.part[j].n, R);
  }
  return a.warps;
}

// Blocks per multiprocessor of the persistent GEMV: what fits, at most DSE_GPU_W4_BLOCKS_PER_SM
// when set (for measuring).
int stream_blocks_per_sm(int fits) {
  static const int cap = [] {
    const char* v = std::getenv("DSE_GPU_W4_BLOCKS_PER_SM");
    return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 0;
  }();
  return cap > 0 && cap < fits ? cap : fits;
}

// Launches a persistent int4 GEMV (kStreamThreads per block, `smem` bytes of x): as many blocks
// as fit on the multiprocessors (stream_blocks_per_sm), never more than `max_blocks` (its work).
template <typename Kernel>
void launch_persistent(Kernel kernel, size_t smem, int64_t max_blocks, const DecodeArgs& a, GpuStream stream) {
  int fits = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&fits, kernel, kStreamThreads, smem) != cudaSuccess || fits < 1) {
    (void)cudaGetLastError();
    fits = 1;
  }
  const int64_t blocks = std::min<int64_t>(max_blocks, int64_t(stream_blocks_per_sm(fits)) * sm_count());
  launch_kernel(kernel, dim3(unsigned(blocks)), kStreamThreads, smem, stream, a);
}

template <int R, bool kNorm, bool kResidual, bool kMulti, bool kQ8>
void launch_w4_stream_at(DecodeArgs a, GpuStream stream) {
  constexpr int U = R == 1 ? 4 : 2;
  const auto kernel = gemv_w4_stream_kernel<R, U, kNorm, kResidual, kMulti, kQ8>;
  const int64_t tasks = assign_tasks<R>(a);
  const size_t smem = size_t(kQ8 ? q8_stage_bytes(a.part[0].w.k) : half_stage_bytes(a.part[0].w.k));
  launch_persistent(kernel, smem, ceil_div(tasks, kStreamThreads / kLanes), a, stream);
}

// The split-K kernel applies to one matrix of at least kSplitWarps * 32 vectors per row (every
// warp's slice at least a full chunk of one vector per lane), without the norm prologue, whose
// rows are fewer than the persistent kernel's resident warps (3 blocks of 8 per multiprocessor).
// Measured end to end on an H200: the 1.5B's down (1536 rows) 765 -> 780 tok/s; the 7B's (4096
// rows, more than the 3168 resident warps) 388.7 -> 386.0, so it stays with the persistent kernel.
// DSE_GPU_GEMV_W4_SPLITK=0 gives every matrix to the persistent kernel, =all every matrix with
// such rows whatever their number (for measuring; session 9, H200: the 7B's down 21.5 -> 21.9 us,
// 7B decode 418 -> 410 tok/s).
bool splitk_applies(const DecodeArgs& a, bool norm) {
  static const bool enabled = !env_is("DSE_GPU_GEMV_W4_SPLITK", "0");
  static const bool all = env_is("DSE_GPU_GEMV_W4_SPLITK", "all");
  return enabled && a.parts == 1 && !norm && a.part[0].w.k / 32 >= 256 &&
         (all || a.part[0].n < int64_t(3 * kSplitWarps) * sm_count());
}

// Rows per task of the persistent kernel: two, or one where DSE_GPU_W4_ROWS=1 (for measuring;
// read at every launch, so that tests can switch it). Two rows for every matrix measured as fast
// or faster on an H200 (session 9, kernel bench): 7B q/o 11.33 -> 9.58 us, 7B down 21.49 ->
// 18.00, 1.5B q/o 6.56 -> 6.14, the rest within 0.5%; end to end 7B 418 -> 423 tok/s, 1.5B 808 ->
// 820 (A/B). One row per task had been the rule below 32 rows per multiprocessor, where two
// leave resident warps without a task; but with one row a warp has half the bytes in flight, and
// the 4096-row matrices (4096 tasks for 3168 resident warps) ran a second round on a third of
// the warps.
int rows_per_task() { return env_is("DSE_GPU_W4_ROWS", "1") ? 1 : 2; }

template <bool kResidual>
void launch_w4_splitk(const DecodeArgs& a, GpuStream stream) {
  constexpr int R = 2, U = 2;
  const auto kernel = gemv_w4_splitk_kernel<R, U, kResidual>;
  launch_persistent(kernel, size_t(half_stage_bytes(a.part[0].w.k)), ceil_div(a.part[0].n, R), a, stream);
}

// Rows per task: rows_per_task().
// kQ8 (DSE_GPU_GEMV_W4=dp4a): every matrix takes the persistent kernel with int8 activations.
template <bool kNorm, bool kResidual, bool kQ8>
void launch_w4_stream(const DecodeArgs& a, GpuStream stream) {
  if (!kQ8 && splitk_applies(a, kNorm)) return launch_w4_splitk<kResidual>(a, stream);
  const bool two = rows_per_task() == 2;
  if (a.parts > 1) {
    if (two) launch_w4_stream_at<2, kNorm, kResidual, true, kQ8>(a, stream);
    else launch_w4_stream_at<1, kNorm, kResidual, true, kQ8>(a, stream);
  } else {
    if (two) launch_w4_stream_at<2, kNorm, kResidual, false, kQ8>(a, stream);
    else launch_w4_stream_at<1, kNorm, kResidual, false, kQ8>(a, stream);
  }
}

template <WeightFormat F, int R, int U, bool kNorm, bool kResidual>
void launch_decode_at(DecodeArgs a, GpuStream stream) {
  const dim3 grid(unsigned(ceil_div(assign_tasks<R>(a), kThreads / kLanes)));
  if constexpr (F == WeightFormat::w4 && !kNorm) {
    if (w4_gemv(a.part[0].w.k) == W4Gemv::block) {
      const size_t smem = size_t(half_stage_bytes(a.part[0].w.k));
      if (a.parts > 1)
        launch_kernel(gemv_w4_half_kernel<R, U, kResidual, true>, grid, kThreads, smem, stream, a);
      else
        launch_kernel(gemv_w4_half_kernel<R, U, kResidual, false>, grid, kThreads, smem, stream, a);
      return;
    }
  }
  if (a.parts > 1)
    launch_kernel(gemv_decode_kernel<F, R, U, kNorm, kResidual, true>, grid, kThreads, 0, stream, a);
  else
    launch_kernel(gemv_decode_kernel<F, R, U, kNorm, kResidual, false>, grid, kThreads, 0, stream, a);
}

// Fewer rows per warp when N (of all parts) is small, so that there are at least two blocks per
// multiprocessor (1.5B-class layers have N = 1536); more vectors in flight per row then.
template <WeightFormat F, bool kNorm, bool kResidual>
void launch_decode(const DecodeArgs& a, GpuStream stream) {
  if constexpr (F == WeightFormat::w4) {
    const W4Gemv kind = w4_gemv(a.part[0].w.k);
    if (kind == W4Gemv::stream) return launch_w4_stream<kNorm, kResidual, false>(a, stream);
    if (kind == W4Gemv::stream_q8) return launch_w4_stream<kNorm, kResidual, true>(a, stream);
  }
  // The norm prologue's loads and products need registers: at 4 rows per warp w4 spills.
  constexpr int R = kNorm && max_rows_per_warp<F>() > 2 ? 2 : max_rows_per_warp<F>();
  const int64_t min_blocks = 2 * int64_t(sm_count());
  auto blocks_at = [&](int64_t r) {
    int64_t warps = 0;
    for (int j = 0; j < a.parts; ++j) warps += ceil_div(a.part[j].n, r);
    return ceil_div(warps, kThreads / kLanes);
  };
  constexpr int U = (R >= 4 || (F == WeightFormat::w4 && R == 2)) ? 2 : 4;
  if (blocks_at(R) >= min_blocks) launch_decode_at<F, R, U, kNorm, kResidual>(a, stream);
  // (w4 at R = 2 keeps U = 2: with U = 4 ptxas leaves part of the unrolled state in local memory.)
  else if (R > 2 && blocks_at(2) >= min_blocks)
    launch_decode_at<F, 2, (F == WeightFormat::w4 ? 2 : 4), kNorm, kResidual>(a, stream);
  else launch_decode_at<F, 1, 4, kNorm, kResidual>(a, stream);
}

// Token slices (grid.y) as many as bring the grid to about two blocks per multiprocessor, each a
// whole number of TB-token passes.
template <WeightFormat F, int R, int TB, int U, bool kVec>
void launch(GemvArgs a, GpuStream stream) {
  const int64_t warps = ceil_div(a.n, R);
  const int64_t blocks = ceil_div(warps, kThreads / kLanes);
  const int64_t passes = ceil_div(a.x_cap, TB);
  const int64_t slices = std::clamp<int64_t>(ceil_div(2 * sm_count(), blocks), 1, passes);
  a.token_slice = ceil_div(passes, slices) * TB;
  const int64_t grid_y = ceil_div(a.x_cap, a.token_slice);
  launch_kernel(gemv_kernel<F, R, TB, U, kVec>, dim3(unsigned(blocks), unsigned(grid_y)), kThreads, 0, stream, a);
}

// A matmul call whose x and W take the tensor-core GEMM: gemm_tc_applies for its shapes, and both
// 16-byte aligned.
bool tensor_core_matmul_applies(WeightFormat f, const TensorView& x, const TensorView& w) {
  const bool aligned = ((reinterpret_cast<uintptr_t>(w.data) | reinterpret_cast<uintptr_t>(x.data)) % 16) == 0;
  return aligned && gemm_tc_applies(f, x.shape[0], w.shape[1], w.group_size);
}

}  // namespace

template <WeightFormat F>
Status launch_matmul_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& x = call.operands[0];
  const TensorView& w = call.operands[1];
  const bool has_bias = call.iparams[0] != 0;
  const TensorView& out = call.operands[call.n_operands - 1];
  GemvArgs a;
  a.x = static_cast<const float*>(x.data);
  a.w.data = static_cast<const uint8_t*>(w.data);
  a.w.scales = cpu::has_scale_slot(F) ? call.operands[2].data : nullptr;
  a.w.k = w.shape[1];
  set_group(a.w, w.group_size);
  a.bias = has_bias ? static_cast<const float*>(call.operands[call.n_operands - 2].data) : nullptr;
  a.out = static_cast<float*>(out.data);
  a.n = w.shape[0];
  a.x_cap = x.shape[0];
  a.step = step.d_step;
  if (a.n <= 0 || a.w.k <= 0) return Status::Ok();
  // Prefill chunks on tensor cores (16-byte aligned operands: the planner aligns every slot).
  if (tensor_core_matmul_applies(F, x, w)) {
    if constexpr (F != WeightFormat::f32)
      return launch_gemm_tc<F>(a.x, a.x_cap, single_part(a.w, a.n, a.bias, a.out), step, stream);
  }
  constexpr int R = max_rows_per_warp<F>();
  const bool vec = vector_path_ok<F>(w.data, x.data, a.w.k, a.w.k, a.w.group);
  if (a.x_cap == 1 && vec) {
    DecodeArgs d;
    d.part[0].w = a.w;
    d.part[0].bias = a.bias;
    d.part[0].out = a.out;
    d.part[0].n = a.n;
    d.x = a.x;
    d.step = a.step;
    launch_decode<F, false, false>(d, stream);
  } else if (a.x_cap == 1) {
    launch<F, R, 1, 1, false>(a, stream);
  } else if (a.x_cap >= 8 && vec) {
    launch<F, R, 8, 1, true>(a, stream);  // batched decode: eight rows per pass over the weights
  } else {
    if (vec) launch<F, R, 4, 1, true>(a, stream);
    else launch<F, R, 4, 1, false>(a, stream);
  }
  return launch_status("matmul_f32");
}

bool fused_matmul_applies(cpu::WeightFormat f, const TensorView& x, const TensorView& w) {
  if (x.shape[0] != 1 || w.rank != 2) return false;
  const int64_t k = w.shape[1];
  switch (f) {
    case WeightFormat::f32: return vector_path_ok<WeightFormat::f32>(w.data, x.data, k, k, w.group_size);
    case WeightFormat::f16: return vector_path_ok<WeightFormat::f16>(w.data, x.data, k, k, w.group_size);
    case WeightFormat::bf16: return vector_path_ok<WeightFormat::bf16>(w.data, x.data, k, k, w.group_size);
    case WeightFormat::w8: return vector_path_ok<WeightFormat::w8>(w.data, x.data, k, k, w.group_size);
    case WeightFormat::w4: return vector_path_ok<WeightFormat::w4>(w.data, x.data, k, k, w.group_size);
    case WeightFormat::fp8: return vector_path_ok<WeightFormat::fp8>(w.data, x.data, k, k, w.group_size);
  }
  return false;
}

bool merged_gemm_applies(cpu::WeightFormat f, const TensorView& x, const TensorView& w) {
  return x.shape[0] > 1 && w.rank == 2 && tensor_core_matmul_applies(f, x, w);
}

namespace {

// Matrix j of a fused call (operands 5 + 4j .. 8 + 4j: W, scales, bias, out) as a GEMV or GEMM part.
template <typename Part>
void read_fused_part(const KernelCall& call, int j, Part& part) {
  const TensorView* q = call.operands + 5 + 4 * j;
  part.w.data = static_cast<const uint8_t*>(q[0].data);
  part.w.scales = q[1].data;
  part.w.k = q[0].shape[1];
  set_group(part.w, q[0].group_size);
  part.bias = static_cast<const float*>(q[2].data);
  part.out = static_cast<float*>(q[3].data);
  part.n = q[0].shape[0];
}

// A merged prefill call (fuse_prefill_calls): the matrices' GEMM with x converted once.
template <WeightFormat F>
Status launch_merged_gemm(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView* op = call.operands;
  const int parts = int(call.iparams[2]);
  if (call.iparams[0] != 0 || call.iparams[1] != 0 || parts < 1 || parts > kMaxGemmParts)
    return Status(StatusCode::internal, "fused matmul: a prefill call merges matmuls only, at most 3");
  GemmParts g;
  g.count = parts;
  for (int j = 0; j < parts; ++j) {
    GemmPart& part = g.part[j];
    read_fused_part(call, j, part);
    if (part.n <= 0 || part.w.k != g.part[0].w.k || !merged_gemm_applies(F, op[0], op[5 + 4 * j]))
      return Status(StatusCode::internal, "fused matmul: a prefill part the merged GEMM does not take");
  }
  if constexpr (F == WeightFormat::f32) {
    return Status(StatusCode::internal, "fused matmul: f32 weights have no tensor-core GEMM");
  } else {
    return launch_gemm_tc<F>(static_cast<const float*>(op[0].data), op[0].shape[0], g, step, stream);
  }
}

}  // namespace

template <WeightFormat F>
Status launch_fused_matmul_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView* op = call.operands;
  if (op[0].shape[0] > 1) return launch_merged_gemm<F>(call, step, stream);
  const bool norm = call.iparams[0] != 0, residual = call.iparams[1] != 0;
  DecodeArgs a;
  a.parts = int(call.iparams[2]);
  if (a.parts < 1 || a.parts > kMaxParts) return Status(StatusCode::internal, "fused matmul: bad part count");
  a.x = static_cast<const float*>(op[0].data);
  a.step = step.d_step;
  if (norm) {
    a.norm_w = static_cast<const float*>(op[1].data);
    a.norm_out = static_cast<float*>(op[2].data);
    a.eps = double(call.fparams[0]);
  }
  if (residual) {
    a.residual_in = static_cast<const float*>(op[3].data);
    a.residual_out = static_cast<float*>(op[4].data);
  }
  for (int j = 0; j < a.parts; ++j) {
    GemvPart& part = a.part[j];
    read_fused_part(call, j, part);
    if (part.n <= 0 || part.w.k <= 0) return Status(StatusCode::internal, "fused matmul: empty part");
  }
  if (norm && residual) launch_decode<F, true, true>(a, stream);
  else if (norm) launch_decode<F, true, false>(a, stream);
  else if (residual) launch_decode<F, false, true>(a, stream);
  else launch_decode<F, false, false>(a, stream);
  return launch_status("fused matmul_f32");
}

template Status launch_fused_matmul_f32<WeightFormat::f32>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_fused_matmul_f32<WeightFormat::f16>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_fused_matmul_f32<WeightFormat::bf16>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_fused_matmul_f32<WeightFormat::w8>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_fused_matmul_f32<WeightFormat::w4>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_fused_matmul_f32<WeightFormat::fp8>(const KernelCall&, const GpuStep&, GpuStream);

template <WeightFormat F>
uint64_t matmul_f32_workspace(const KernelCall& call) {
  return matmul_workspace_bytes(kBuildApi, F, call);
}

template uint64_t matmul_f32_workspace<WeightFormat::f32>(const KernelCall&);
template uint64_t matmul_f32_workspace<WeightFormat::f16>(const KernelCall&);
template uint64_t matmul_f32_workspace<WeightFormat::bf16>(const KernelCall&);
template uint64_t matmul_f32_workspace<WeightFormat::w8>(const KernelCall&);
template uint64_t matmul_f32_workspace<WeightFormat::w4>(const KernelCall&);
template uint64_t matmul_f32_workspace<WeightFormat::fp8>(const KernelCall&);

template Status launch_matmul_f32<WeightFormat::f32>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_matmul_f32<WeightFormat::f16>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_matmul_f32<WeightFormat::bf16>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_matmul_f32<WeightFormat::w8>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_matmul_f32<WeightFormat::w4>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_matmul_f32<WeightFormat::fp8>(const KernelCall&, const GpuStep&, GpuStream);

}  // namespace dse::gpu
