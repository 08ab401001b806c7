// matmul_f32_<w>: weight-streaming GEMV kernels (decode) that also serve small prefill chunks.
#include "matmul.cuh"

#include "common.cuh"
#include "gemm_tc.cuh"
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
  const StepInfo* step;
};

// Most rows per warp: enough that the x slice a lane loads is reused across rows (x is read
// from L1 once per R weight rows: for w4 at R = 1 that is 8 bytes of x per byte of weights, near
// the L1's limit at full HBM speed), few enough to keep the decoded values in registers.
template <WeightFormat F>
constexpr int max_rows_per_warp() {
  return (F == WeightFormat::f32 || F == WeightFormat::f16 || F == WeightFormat::bf16) ? 2 : 4;
}

// Multiprocessors of the current device, asked once per device.
int sm_count() {
  static int cached[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 132;
  if (cached[dev] == 0) {
    int n = 0;
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) n = 0;
    cached[dev] = n > 0 ? n : 132;  // unknown: assume an H100's 132 (only the rows per warp depend on it)
  }
  return cached[dev];
}

template <WeightFormat F, int R, int TB, int U, bool kVec>
__global__ void __launch_bounds__(kThreads) gemv_kernel(GemvArgs a) {
  const int lane = threadIdx.x % kLanes;
  const int64_t warp = int64_t(blockIdx.x) * (kThreads / kLanes) + threadIdx.x / kLanes;
  const int64_t n0 = warp * R;
  if (n0 >= a.n) return;
  int64_t wrow[R];
#pragma unroll
  for (int r = 0; r < R; ++r) wrow[r] = n0 + r < a.n ? n0 + r : a.n - 1;  // clamp: loads stay in bounds
  const int64_t k = a.w.k;
  if constexpr (TB == 1) {
    // Decode (launched only for a token capacity of 1): row 0 of x always exists, so the weights
    // are loaded before n_tokens is known and the read of the device step overlaps them instead
    // of delaying them.
    const int64_t n_tokens = a.step->n_tokens;
    float acc[R][1];
#pragma unroll
    for (int r = 0; r < R; ++r) acc[r][0] = 0.0f;
    if constexpr (kVec) lane_dot_vec<F, R, 1, U>(a.w, wrow, a.x, k, 1, lane, acc);
    else lane_dot_scalar<F, R, 1, U>(a.w, wrow, a.x, k, 1, lane, acc);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      const float v = warp_sum(acc[r][0]) * row_scale<F>(a.w, wrow[r]) + (a.bias ? a.bias[wrow[r]] : 0.0f);
      if (lane == 0 && n_tokens >= 1 && n0 + r < a.n) a.out[n0 + r] = v;
    }
    return;
  }
  const int64_t rows = step_rows(a.step, a.x_cap);
  for (int64_t t0 = 0; t0 < rows; t0 += TB) {
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

template <WeightFormat F, int R, int TB, int U, bool kVec>
void launch(const GemvArgs& a, GpuStream stream) {
  const int64_t warps = ceil_div(a.n, R);
  const int64_t blocks = ceil_div(warps, kThreads / kLanes);
  gemv_kernel<F, R, TB, U, kVec><<<dim3(unsigned(blocks)), kThreads, 0, stream>>>(a);
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
  if (gemm_tc_applies(F, a.x_cap, a.w.k, a.w.group) &&
      ((reinterpret_cast<uintptr_t>(w.data) | reinterpret_cast<uintptr_t>(x.data)) % 16) == 0) {
    if constexpr (F != WeightFormat::f32)
      return launch_gemm_tc<F>(a.x, a.x_cap, a.w, a.n, a.bias, a.out, step, stream);
  }
  constexpr int R = max_rows_per_warp<F>();
  const bool vec = vector_path_ok<F>(w.data, x.data, a.w.k, a.w.k, a.w.group);
  if (a.x_cap == 1 && vec) {
    // Decode: fewer rows per warp when N is small, so that there are at least two blocks per
    // multiprocessor (1.5B-class layers have N = 1536); more vectors in flight per row then.
    const int64_t min_blocks = 2 * int64_t(sm_count());
    auto blocks_at = [&](int64_t r) { return ceil_div(ceil_div(a.n, r), kThreads / kLanes); };
    if (blocks_at(R) >= min_blocks) launch<F, R, 1, (R >= 4 ? 2 : 4), true>(a, stream);
    // (w4 at R = 2 keeps U = 2: with U = 4 ptxas leaves part of the unrolled state in local memory.)
    else if (R > 2 && blocks_at(2) >= min_blocks) launch<F, 2, 1, (F == WeightFormat::w4 ? 2 : 4), true>(a, stream);
    else launch<F, 1, 1, 4, true>(a, stream);
  } else if (a.x_cap == 1) {
    launch<F, R, 1, 1, false>(a, stream);
  } else {
    if (vec) launch<F, R, 4, 1, true>(a, stream);
    else launch<F, R, 4, 1, false>(a, stream);
  }
  return launch_status("matmul_f32");
}

template <WeightFormat F>
uint64_t matmul_f32_workspace(const KernelCall& call) {
  const TensorView& x = call.operands[0];
  const TensorView& w = call.operands[1];
  if (!gemm_tc_applies(F, x.shape[0], w.shape[1], w.group_size)) return 0;
  return gemm_tc_workspace_bytes(x.shape[0], w.shape[1]);
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
