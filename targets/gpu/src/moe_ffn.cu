// moe_ffn_f32_<w>: id check, gate_up + silu GEMV per selected expert, down GEMV weighted over experts.
#include "moe_ffn.cuh"

#include "common.cuh"
#include "launch.cuh"
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
  int64_t rows[2 * kRows];  // gate rows, then the matching up rows
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int64_t rr = r0 + r < a.inter ? r0 + r : a.inter - 1;
    rows[r] = e * 2 * a.inter + rr;
    rows[kRows + r] = e * 2 * a.inter + a.inter + rr;
  }
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

template <WeightFormat F, bool kVec>
void launch_experts(const MoeArgs& a, GpuStream stream) {
  const dim3 g1(unsigned(ceil_div(a.inter, kWarps * kRows)), unsigned(a.top_k), unsigned(a.cap));
  launch_kernel(gate_up_kernel<F, kVec>, g1, kThreads, 0, stream, a);
  const dim3 g2(unsigned(ceil_div(a.hidden, kWarps * kRows)), unsigned(a.cap));
  launch_kernel(down_kernel<F, kVec>, g2, kThreads, 0, stream, a);
}

constexpr uint64_t kFlagBytes = 16;  // keeps act 16-byte aligned

}  // namespace

uint64_t moe_ffn_f32_workspace(const KernelCall& call) {
  const int64_t cap = call.operands[0].shape[0];
  return kFlagBytes + uint64_t(cap * call.iparams[1] * call.iparams[2]) * sizeof(float);
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
  const uint64_t need = moe_ffn_f32_workspace(call);
  if (step.workspace_bytes < need || step.workspace == nullptr) {
    return Status(StatusCode::invalid_argument, "moe_ffn_f32 (GPU): needs " + std::to_string(need) +
                                                    " bytes of workspace, got " + std::to_string(step.workspace_bytes) +
                                                    "; size it with the registry's workspace_bytes");
  }
  if (a.cap <= 0 || a.top_k <= 0) return Status::Ok();
  int32_t* bad = static_cast<int32_t*>(step.workspace);
  a.bad = bad;
  a.act = reinterpret_cast<float*>(static_cast<uint8_t*>(step.workspace) + kFlagBytes);
  launch_kernel(check_ids_kernel, 1, 256, 0, stream, a.ids, a.n_experts, a.top_k, a.cap, bad, step.d_step,
                step.d_error);
  DSE_RETURN_IF_ERROR(launch_status("moe_ffn_f32 (check)"));
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

}  // namespace dse::gpu
