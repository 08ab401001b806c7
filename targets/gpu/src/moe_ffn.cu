// moe_ffn_f32_<w>: id check, gate_up + silu GEMV per selected expert, down GEMV weighted over experts.
#include "moe_ffn.cuh"

#include <algorithm>
#include <cstdint>

#include "common.cuh"
#include "gemv_w4_half.cuh"
#include "launch.cuh"
#include "moe_gemm.cuh"
#include "weight_dot.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 128;
constexpr int kWarps = kThreads / kLanes;
constexpr int kRows = 2;  // rows per warp (gate_up: 2 gate + 2 up rows)

struct MoeArgs {
  const float* x;
  const int32_t* ids;
  const float* route_w;
  WeightMatrix gate_up;  // rows of all experts: [E * 2I, H]
  WeightMatrix down;     // [E * H, I]
  float* act;            // [T, k, I]
  const int32_t* bad;    // the check kernel's flag
  float* out;
  int64_t n_experts, top_k, inter, hidden, cap;
  const StepInfo* step;
};

__global__ void __launch_bounds__(256) check_ids_kernel(const int32_t* ids, int64_t n_experts, int64_t top_k,
                                                        int64_t cap, int32_t* bad, const StepInfo* step,
                                                        GpuErrorRecord* err) {
  grid_dependency_sync();
  __shared__ int any;
  if (threadIdx.x == 0) any = 0;
  __syncthreads();
  const int64_t n = step_rows(step, cap) * top_k;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const int32_t e = ids[i];
    if (e < 0 || e >= n_experts) {
      atomicExch(&any, 1);
      record_error(err, StatusCode::out_of_range, GpuOp::moe_ffn, e, n_experts, i / top_k);
    }
  }
  __syncthreads();
  if (threadIdx.x == 0) *bad = any;
}

template <WeightFormat F, bool kVec, int R, int TB, int U>
__device__ __forceinline__ void dot(const WeightMatrix& w, const int64_t (&rows)[R], const float* x, int lane,
                                   float (&acc)[R][TB]) {
  if constexpr (kVec) lane_dot_vec<F, R, TB, U>(w, rows, x, w.k, 1, lane, acc);
  else lane_dot_scalar<F, R, TB, U>(w, rows, x, w.k, 1, lane, acc);
}

// Rows of the [E * 2I, H] gate_up matrix for inter rows r0 .. r0 + R/2 - 1 of expert e: the gate
// rows, then the matching up rows; rows past I clamped to the last (their results are not stored).
template <int R>
__device__ __forceinline__ void gate_up_rows(int64_t e, int64_t r0, int64_t inter, int64_t (&rows)[R]) {
#pragma unroll
  for (int r = 0; r < R / 2; ++r) {
    const int64_t rr = r0 + r < inter ? r0 + r : inter - 1;
    rows[r] = e * 2 * inter + rr;
    rows[R / 2 + r] = e * 2 * inter + inter + rr;
  }
}

// grid (ceil(I / (kWarps * kRows)), top_k, token_cap)
template <WeightFormat F, bool kVec>
__global__ void __launch_bounds__(kThreads) gate_up_kernel(MoeArgs a) {
  grid_dependency_sync();
  const int64_t t = blockIdx.z;
  const int64_t j = blockIdx.y;
  // Three independent loads issued together (row t < capacity always exists); the id is used
  // only after the step and the flag say it is valid.
  const int64_t live_rows = step_rows(a.step, a.cap);
  const int32_t bad = *a.bad;
  const int64_t e = a.ids[t * a.top_k + j];
  if (t >= live_rows || bad) return;
  const int lane = threadIdx.x % kLanes;
  const int64_t r0 = (int64_t(blockIdx.x) * kWarps + threadIdx.x / kLanes) * kRows;
  if (r0 >= a.inter) return;
  int64_t rows[2 * kRows];
  gate_up_rows(e, r0, a.inter, rows);
  float acc[2 * kRows][1];
#pragma unroll
  for (int r = 0; r < 2 * kRows; ++r) acc[r][0] = 0.0f;
  dot<F, kVec, 2 * kRows, 1, 2>(a.gate_up, rows, a.x + t * a.hidden, lane, acc);
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const float g = warp_sum(acc[r][0]) * row_scale<F>(a.gate_up, rows[r]);
    const float u = warp_sum(acc[kRows + r][0]) * row_scale<F>(a.gate_up, rows[kRows + r]);
    if (lane == 0 && r0 + r < a.inter) a.act[(t * a.top_k + j) * a.inter + r0 + r] = silu(g) * u;
  }
}

// grid (ceil(H / (kWarps * kRows)), token_cap)
template <WeightFormat F, bool kVec>
__global__ void __launch_bounds__(kThreads) down_kernel(MoeArgs a) {
  grid_dependency_sync();
  const int64_t t = blockIdx.y;
  if (t >= step_rows(a.step, a.cap) || *a.bad) return;
  const int lane = threadIdx.x % kLanes;
  const int64_t n0 = (int64_t(blockIdx.x) * kWarps + threadIdx.x / kLanes) * kRows;
  if (n0 >= a.hidden) return;
  float sum[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) sum[r] = 0.0f;
  for (int64_t j = 0; j < a.top_k; ++j) {
    const int64_t e = a.ids[t * a.top_k + j];
    int64_t rows[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) rows[r] = e * a.hidden + (n0 + r < a.hidden ? n0 + r : a.hidden - 1);
    float acc[kRows][1];
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[r][0] = 0.0f;
    dot<F, kVec, kRows, 1, 2>(a.down, rows, a.act + (t * a.top_k + j) * a.inter, lane, acc);
    const float w = a.route_w[t * a.top_k + j];
#pragma unroll
    for (int r = 0; r < kRows; ++r) sum[r] += w * (warp_sum(acc[r][0]) * row_scale<F>(a.down, rows[r]));
  }
#pragma unroll
  for (int r = 0; r < kRows; ++r)
    if (lane == 0 && n0 + r < a.hidden) a.out[t * a.hidden + n0 + r] = sum[r];
}

// The int4 experts in packed f16 arithmetic (gemv_w4_half.cuh: about half the instructions per
// weight of the f32 path above, which was instruction-bound), for the 16-byte path with
// K % 32 == 0. Blocks are larger than above because each one stages its x in shared memory:
// the more rows a block covers, the fewer bytes of x it reads from L2 per byte of weights.
constexpr int kHalfThreads = 256;
constexpr int kHalfWarps = kHalfThreads / kLanes;
constexpr int kGateUpRows = 2;  // inter rows per warp: 2 gate + 2 up rows, 2 vectors each in flight
constexpr int kGateUpVecs = 2;
constexpr int kDownThreads = 512;  // one row of H per warp: 16 rows per block share the staged acts
constexpr int kDownWarps = kDownThreads / kLanes;
// Vectors per lane per batch; two batches in flight. 2 * 5 covers DeepSeek-V2-Lite's 8.25 and
// V2's 9 vectors per lane, so that all of a row's loads are issued before the acts are staged.
constexpr int kDownVecs = 5;

// Shared memory of the f16 kernels: x in f16 (gate_up), the top_k act vectors in f16 and their
// factors (down). Both must fit kHalfStageSmemLimit.
int64_t gate_up_half_smem(const MoeArgs& a) { return half_stage_bytes(a.hidden); }
int64_t down_half_smem(const MoeArgs& a) { return a.top_k * (half_stage_bytes(a.inter) + int64_t(sizeof(float))); }

// grid (ceil(I / (kHalfWarps * kGateUpRows)), top_k, token_cap); x_t staged in f16 (half_stage_bytes).
__global__ void __launch_bounds__(kHalfThreads) gate_up_w4_half_kernel(MoeArgs a) {
  extern __shared__ uint4 xs_half[];
  __shared__ float red[kHalfWarps];
  grid_dependency_sync();
  const int64_t t = blockIdx.z;
  const int64_t j = blockIdx.y;
  const int64_t live_rows = step_rows(a.step, a.cap);
  const int32_t bad = *a.bad;
  const int64_t e = a.ids[t * a.top_k + j];  // row t < capacity always exists; used once valid
  if (t >= live_rows || bad) return;
  const int lane = threadIdx.x % kLanes;
  const int64_t r0 = (int64_t(blockIdx.x) * kHalfWarps + threadIdx.x / kLanes) * kGateUpRows;
  // Warps past the last row still help stage x (the block synchronises once), then leave.
  const bool active = r0 < a.inter;
  int64_t rows[2 * kGateUpRows];
  gate_up_rows(e, r0, a.inter, rows);
  const int64_t nvec = a.hidden / 32;
  // The first weights are on their way while x is staged.
  W4Batch<2 * kGateUpRows, kGateUpVecs> batch;
  if (active) batch.load(a.gate_up, rows, lane, nvec);
  const float x_factor = stage_x_half(a.x + t * a.hidden, a.hidden, xs_half, red);
  if (!active) return;
  float acc[2 * kGateUpRows];
#pragma unroll
  for (int r = 0; r < 2 * kGateUpRows; ++r) acc[r] = 0.0f;
  for (int64_t v0 = lane; v0 < nvec; v0 += int64_t(kLanes) * kGateUpVecs) {
    if (v0 != lane) batch.load(a.gate_up, rows, v0, nvec);
    batch.accumulate(xs_half, v0, nvec, acc);
  }
#pragma unroll
  for (int r = 0; r < kGateUpRows; ++r) {
    const float g = warp_sum(acc[r]) * x_factor;
    const float u = warp_sum(acc[kGateUpRows + r]) * x_factor;
    if (lane == 0 && r0 + r < a.inter) a.act[(t * a.top_k + j) * a.inter + r0 + r] = silu(g) * u;
  }
}

// The down projection of one output row n over all top_k experts is one list of top_k * nvec
// 32-weight vectors (expert slot j's vector v at j * nvec + v); lane l takes list entries
// l, l + 32, l + 64, ... So the experts' weights are in flight together (the f32 kernel above runs
// one dependent dot product per expert), and no lane idles when nvec is not a multiple of 32
// (DeepSeek-V2-Lite: nvec = 44, 264 vectors per row, 8.25 per lane).
struct DownCursor {
  int32_t j, v;  // the lane's next entry: vector v of expert slot j
  __device__ __forceinline__ void advance(int32_t nvec) {
    v += kLanes;
    while (v >= nvec) {  // once at most when nvec >= 32 (I >= 1024)
      v -= nvec;
      ++j;
    }
  }
};

// kDownVecs entries of a lane's list, loaded together; entries past the list (j >= top_k) are
// dead: nothing is loaded and nothing added. Batches are accumulated in the order they were
// loaded, so a second cursor, advanced the same way, says which entry each slot holds.
struct DownBatch {
  W4Batch<1, 1> w[kDownVecs];

  __device__ __forceinline__ void load(const MoeArgs& a, const int32_t* ids, int64_t n, int32_t nvec, DownCursor& c) {
#pragma unroll
    for (int u = 0; u < kDownVecs; ++u) {
      if (c.j < a.top_k) {
        const int64_t row[1] = {int64_t(ids[c.j]) * a.hidden + n};
        w[u].load(a.down, row, c.v, nvec);
      }
      c.advance(nvec);
    }
  }

  // acc += sum over the live entries of mult[j] * (W[row of expert j] . act_j) for its 32 k.
  __device__ __forceinline__ void accumulate(const uint4* acts, const float* mult, int64_t stride, int32_t nvec,
                                             int64_t top_k, DownCursor& c, float& acc) const {
#pragma unroll
    for (int u = 0; u < kDownVecs; ++u) {
      if (c.j < top_k) {
        float d[1] = {0.0f};
        w[u].accumulate(acts + c.j * stride, c.v, nvec, d);
        acc = fmaf(d[0], mult[c.j], acc);
      }
      c.advance(nvec);
    }
  }
};

// grid (ceil(H / kDownWarps), token_cap); warp n computes out[t, n] = sum over j of
// route_w[t, j] * (down_e[n] . act[t, j]), e = ids[t, j]. The top_k act vectors of token t are
// staged in f16 (top_k * half_stage_bytes(I)), followed by top_k floats: route weight times the act's
// f16 factor. Each lane sums its entries in list order and the warp sums the lanes: a fixed
// order, so the result is deterministic (not the CPU's order of one dot product per expert).
__global__ void __launch_bounds__(kDownThreads) down_w4_half_kernel(MoeArgs a) {
  extern __shared__ uint4 acts_half[];
  grid_dependency_sync();
  const int64_t t = blockIdx.y;
  const int64_t live_rows = step_rows(a.step, a.cap);
  const int32_t bad = *a.bad;
  if (t >= live_rows || bad) return;
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes;
  const int64_t n = int64_t(blockIdx.x) * kDownWarps + warp;
  const bool active = n < a.hidden;
  const int32_t nvec = int32_t(a.inter / 32);
  const int64_t stride = half_stage_entries(nvec);  // 16-byte entries of one staged act vector
  float* mult = reinterpret_cast<float*>(acts_half + a.top_k * stride);
  const int32_t* ids = a.ids + t * a.top_k;
  const int64_t batches = ceil_div(a.top_k * nvec, int64_t(kLanes) * kDownVecs);
  DownCursor c{lane / nvec, lane % nvec};  // the next entry to load
  DownCursor ca = c;                       // the next entry to accumulate
  // Two batches in flight, taken in turns (batch i in b[i % 2]); the first two are on their way
  // while the acts are staged.
  DownBatch b0, b1;
  if (active) {
    b0.load(a, ids, n, nvec, c);
    if (batches > 1) b1.load(a, ids, n, nvec, c);
  }
  for (int64_t j = warp; j < a.top_k; j += kDownWarps) {
    // One warp per act vector (its own layout and factor: the whole vector is its slice).
    const float f = stage_x_half_slice(a.act + (t * a.top_k + j) * a.inter, 0, a.inter / 8, nvec,
                                       acts_half + j * stride, lane);
    if (lane == 0) mult[j] = a.route_w[t * a.top_k + j] * f;
  }
  __syncthreads();
  if (!active) return;
  float acc = 0.0f;
  for (int64_t i = 0; i < batches; i += 2) {
    b0.accumulate(acts_half, mult, stride, nvec, a.top_k, ca, acc);
    if (i + 2 < batches) b0.load(a, ids, n, nvec, c);
    if (i + 1 < batches) {
      b1.accumulate(acts_half, mult, stride, nvec, a.top_k, ca, acc);
      if (i + 3 < batches) b1.load(a, ids, n, nvec, c);
    }
  }
  const float v = warp_sum(acc);
  if (lane == 0) a.out[t * a.hidden + n] = v;
}

// int4 on the 16-byte path takes the packed f16 kernels where K % 32 == 0 (always true there:
// a w4 vector is 32 weights) and their staged vectors fit the shared memory; each of the two
// GEMVs decides for itself. Grids depend on the shapes and the capacity only.
template <WeightFormat F, bool kVec>
void launch_experts(const MoeArgs& a, GpuStream stream) {
  constexpr bool kHalf = F == WeightFormat::w4 && kVec;
  if (kHalf && gate_up_half_smem(a) <= kHalfStageSmemLimit) {
    const dim3 g(unsigned(ceil_div(a.inter, kHalfWarps * kGateUpRows)), unsigned(a.top_k), unsigned(a.cap));
    launch_kernel(gate_up_w4_half_kernel, g, kHalfThreads, size_t(gate_up_half_smem(a)), stream, a);
  } else {
    const dim3 g(unsigned(ceil_div(a.inter, kWarps * kRows)), unsigned(a.top_k), unsigned(a.cap));
    launch_kernel(gate_up_kernel<F, kVec>, g, kThreads, 0, stream, a);
  }
  if (kHalf && down_half_smem(a) <= kHalfStageSmemLimit) {
    const dim3 g(unsigned(ceil_div(a.hidden, kDownWarps)), unsigned(a.cap));
    launch_kernel(down_w4_half_kernel, g, kDownThreads, size_t(down_half_smem(a)), stream, a);
  } else {
    const dim3 g(unsigned(ceil_div(a.hidden, kWarps * kRows)), unsigned(a.cap));
    launch_kernel(down_kernel<F, kVec>, g, kThreads, 0, stream, a);
  }
}

}  // namespace

template <WeightFormat F>
uint64_t moe_ffn_f32_workspace(const KernelCall& call) {
  return moe_ffn_workspace_bytes(kBuildApi, F, call);
}

template <WeightFormat F>
Status launch_moe_ffn_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  constexpr bool kScales = cpu::has_scale_slot(F);
  const TensorView& x = call.operands[0];
  const TensorView& gu = call.operands[3];
  const TensorView& dn = call.operands[kScales ? 5 : 4];
  MoeArgs a;
  a.x = static_cast<const float*>(x.data);
  a.ids = static_cast<const int32_t*>(call.operands[1].data);
  a.route_w = static_cast<const float*>(call.operands[2].data);
  a.gate_up.data = static_cast<const uint8_t*>(gu.data);
  a.gate_up.scales = kScales ? call.operands[4].data : nullptr;
  a.gate_up.k = gu.shape[2];
  set_group(a.gate_up, gu.group_size);
  a.down.data = static_cast<const uint8_t*>(dn.data);
  a.down.scales = kScales ? call.operands[6].data : nullptr;
  a.down.k = dn.shape[2];
  set_group(a.down, dn.group_size);
  a.out = static_cast<float*>(call.operands[kScales ? 7 : 5].data);
  a.n_experts = call.iparams[0];
  a.top_k = call.iparams[1];
  a.inter = call.iparams[2];
  a.hidden = call.iparams[3];
  a.cap = x.shape[0];
  a.step = step.d_step;
  const uint64_t need = moe_gemv_scratch_bytes(a.cap, a.top_k, a.inter);
  if (step.workspace_bytes < need || step.workspace == nullptr) {
    return Status(StatusCode::invalid_argument, "moe_ffn_f32 (GPU): needs " + std::to_string(need) +
                                                    " bytes of workspace, got " + std::to_string(step.workspace_bytes) +
                                                    "; size it with the registry's workspace_bytes");
  }
  if (a.cap <= 0 || a.top_k <= 0) return Status::Ok();
  int32_t* bad = static_cast<int32_t*>(step.workspace);
  a.bad = bad;
  a.act = reinterpret_cast<float*>(static_cast<uint8_t*>(step.workspace) + kMoeFlagBytes);
  launch_kernel(check_ids_kernel, 1, 256, 0, stream, a.ids, a.n_experts, a.top_k, a.cap, bad, step.d_step,
                step.d_error);
  DSE_RETURN_IF_ERROR(launch_status("moe_ffn_f32 (check)"));
  // Prefill chunks (unless DSE_GPU_MOE_GEMM=0): grouped GEMMs (moe_gemm.cuh) where the tensor-core
  // GEMM's alignment holds and the session planned their workspace.
  const MoeGemmShape g = moe_gemm_shape(F, call);
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (moe_gemm_applies<F>(g) && step.workspace_bytes >= kMoeFlagBytes + moe_gemm_layout(g).total && aligned(x.data) &&
      aligned(gu.data) && aligned(dn.data))
    return launch_moe_gemm<F>(g, a.x, a.ids, a.route_w, a.gate_up, a.down, a.out, bad,
                              static_cast<uint8_t*>(step.workspace) + kMoeFlagBytes, step, stream);
  const bool vec = vector_path_ok<F>(gu.data, x.data, a.hidden, a.hidden, a.gate_up.group) &&
                   vector_path_ok<F>(dn.data, a.act, a.inter, a.inter, a.down.group);
  if (vec) launch_experts<F, true>(a, stream);
  else launch_experts<F, false>(a, stream);
  return launch_status("moe_ffn_f32");
}

template Status launch_moe_ffn_f32<WeightFormat::f32>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_moe_ffn_f32<WeightFormat::f16>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_moe_ffn_f32<WeightFormat::bf16>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_moe_ffn_f32<WeightFormat::w8>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_moe_ffn_f32<WeightFormat::w4>(const KernelCall&, const GpuStep&, GpuStream);
template Status launch_moe_ffn_f32<WeightFormat::fp8>(const KernelCall&, const GpuStep&, GpuStream);

template uint64_t moe_ffn_f32_workspace<WeightFormat::f32>(const KernelCall&);
template uint64_t moe_ffn_f32_workspace<WeightFormat::f16>(const KernelCall&);
template uint64_t moe_ffn_f32_workspace<WeightFormat::bf16>(const KernelCall&);
template uint64_t moe_ffn_f32_workspace<WeightFormat::w8>(const KernelCall&);
template uint64_t moe_ffn_f32_workspace<WeightFormat::w4>(const KernelCall&);
template uint64_t moe_ffn_f32_workspace<WeightFormat::fp8>(const KernelCall&);

}  // namespace dse::gpu
