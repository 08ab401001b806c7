// Tensor-core GEMM for prefill chunks (see gemm_tc.cuh). Two kernels per matmul:
//   1. rows_to_f16: x (f32) -> f16 in the workspace, with an exact power-of-two factor per row;
//   2. gemm: 64 x 128 output tiles, 8 warps of 32 x 32, K in steps of 32; both operand tiles are
//      double-buffered in shared memory, the next tile's global loads are in flight while the
//      current one runs through ldmatrix + mma.sync; weights are dequantized (w4 with its group
//      scale, w8 / fp8 / bf16 converted) when they are stored to shared memory, and the per-row
//      scale of w8 / fp8, the row factor of x and the bias are applied once in the epilogue.
//      On sm_90 devices, in builds with sm_90a, gemm_wgmma.cu's kernel runs instead.
// The gemm also serves grouped GEMMs (MoE experts: a matrix per group of rows, blockIdx.z).
#include "gemm_tc.cuh"

#include <cstdlib>

#include "common.cuh"
#include "gemm_tile.cuh"
#include "gemm_wgmma.cuh"
#include "launch.cuh"
#include "mma_sm80.cuh"

namespace dse::gpu {

#if defined(DSE_GPU_HIP)

int gemm_k_splits(const GemmParts&, int64_t) { return 1; }
template <WeightFormat F>
Status launch_gemm_tc(const float*, int64_t, const GemmParts&, const GpuStep&, GpuStream) {
  return Status(StatusCode::unsupported, "the tensor-core GEMM is not built for HIP");
}
void launch_rows_to_f16(const float*, int64_t, int64_t, const StepInfo*, const int32_t*, int32_t, const int32_t*,
                        __half*, float*, const GemmParts*, GpuStream) {}
template <WeightFormat F>
Status launch_gemm_tc_f16(const __half*, const float*, int64_t, const int32_t*, int64_t, const GemmParts&, int,
                          const StepInfo*, GpuStream) {
  return Status(StatusCode::unsupported, "the tensor-core GEMM is not built for HIP");
}

#else

namespace {

constexpr int kBM = 64, kBN = 128, kBK = 32;
static_assert(kBK == 32, "tensor_core_gemm_applies (scratch_layout.h) requires K % 32 == 0 for these steps");
constexpr int kStride = kBK + 8;  // halves per shared-memory row: 80 bytes, so that the 8 rows an
                                  // ldmatrix reads fall in 8 different 16-byte bank groups
constexpr int kThreads = 256;
constexpr int kRowThreads = 256;  // rows_to_f16

struct GemmArgs {
  const __half* xh;      // [T, K] f16 (workspace)
  const float* row_mul;  // [T] factor that undoes the row scaling
  GemmPartTiles parts;   // block column -> part (gemm_tile.cuh)
  int64_t k, t_cap;
  int k_splits;               // slices of K (grid z) when group_rows is null
  const StepInfo* step;
  const int32_t* group_rows;  // null, or [groups + 1] row offsets (gemm_tc.cuh)
};

// The outputs rows_to_f16 zeroes (row t of each), for the K-split GEMM that adds into them.
struct ZeroRows {
  float* out[kMaxGemmParts];
  int64_t n[kMaxGemmParts];
};

// Largest |x| of the row picks the scale (f16_row_exponent): the row times 2^-e in f16, 2^e in
// row_mul for the epilogue.
// Row t of xh is row t of x, or with `gather` row gather[t] / gather_div of x for the first
// *gather_rows rows (grouped GEMMs: x's rows in the order of their groups). Row t of each output
// in `zero` (those with a null pointer skipped) is set to 0.
__global__ void __launch_bounds__(kRowThreads)
    rows_to_f16_kernel(const float* x, int64_t k, int64_t cap, const StepInfo* step, const int32_t* gather,
                       int32_t gather_div, const int32_t* gather_rows, __half* xh, float* row_mul, ZeroRows zero) {
  grid_dependency_sync();
  __shared__ float scratch[kRowThreads / kLanes];
  const int64_t t = blockIdx.x;
  if (t >= (gather ? int64_t(*gather_rows) : step_rows(step, cap))) return;
  const int64_t src = gather ? gather[t] / gather_div : t;
  const float4* xr = reinterpret_cast<const float4*>(x + src * k);
  const int64_t n4 = k / 4;
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < n4; i += kRowThreads) {
    const float4 v = xr[i];
    m = fmaxf(m, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
  }
  const int e = f16_row_exponent(block_max(m, scratch));
  const float s = ldexpf(1.0f, -e);
  uint2* dst = reinterpret_cast<uint2*>(xh + t * k);
  for (int64_t i = threadIdx.x; i < n4; i += kRowThreads) {
    const float4 v = xr[i];
    const __half2 a = __floats2half2_rn(v.x * s, v.y * s), b = __floats2half2_rn(v.z * s, v.w * s);
    dst[i] = make_uint2(*reinterpret_cast<const uint32_t*>(&a), *reinterpret_cast<const uint32_t*>(&b));
  }
  if (threadIdx.x == 0) row_mul[t] = ldexpf(1.0f, e);
#pragma unroll
  for (int p = 0; p < kMaxGemmParts; ++p) {
    if (zero.out[p] == nullptr) continue;
    float* o = zero.out[p] + t * zero.n[p];
    for (int64_t i = threadIdx.x; i < zero.n[p]; i += kRowThreads) o[i] = 0.0f;
  }
}

// The weight tile of one K step is 128 rows x 32 values: each thread owns half a row, one run of
// 16 values (row tid / 2, values [16 * (tid % 2), +16)), stored contiguously.
template <WeightFormat F>
__device__ __forceinline__ void store_run(const typename WeightRun<F>::Raw& r, __half* dst) {
  uint4 o[2];
  WeightRun<F>::convert(r, o);
  reinterpret_cast<uint4*>(dst)[0] = o[0];
  reinterpret_cast<uint4*>(dst)[1] = o[1];
}

template <WeightFormat F>
__global__ void __launch_bounds__(kThreads) gemm_kernel(GemmArgs a) {
  grid_dependency_sync();
  __shared__ alignas(16) __half xs[2][kBM][kStride];
  __shared__ alignas(16) __half ws[2][kBN][kStride];
  int64_t n0;
  const GemmPart& part = part_of_tile(a.parts, blockIdx.x, kBN, n0);
  WeightMatrix w = part.w;
  const int64_t n_rows = part.n;
  int64_t m0, rows;
  if (!tile_rows<F>(a.group_rows, a.step, a.t_cap, n_rows, int64_t(blockIdx.y) * kBM, w, m0, rows)) return;
  // This block's K tiles: all, or one of k_splits slices (grid z) added into out.
  int64_t kt_begin = 0, kt_end = a.k / kBK;
  if (a.group_rows == nullptr) k_slice(a.k / kBK, int(blockIdx.z), a.k_splits, kt_begin, kt_end);
  const bool add_out = a.group_rows == nullptr && a.k_splits > 1;
  const bool first_slice = a.group_rows != nullptr || blockIdx.z == 0;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = (warp / 4) * 32, wn = (warp % 4) * 32;

  // x tile: 64 rows x 32 halves, 16 bytes per thread.
  const int x_row = tid / 4, x_col = (tid % 4) * 8;
  const bool x_live = m0 + x_row < rows;
  const __half* x_src = a.xh + (x_live ? m0 + x_row : m0) * a.k + x_col;
  // Weight tile: half a row per thread.
  const int w_row = tid / 2, w_col = (tid % 2) * 16;
  const bool w_live = n0 + w_row < n_rows;
  const int64_t w_n = n0 + w_row;

  using Run = WeightRun<F>;
  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.0f;

  const int64_t k_tiles = kt_end - kt_begin;
  const int64_t k_first = kt_begin * kBK;
  uint4 x_raw = x_live ? *reinterpret_cast<const uint4*>(x_src + k_first) : make_uint4(0, 0, 0, 0);
  typename Run::Raw w_raw = Run::load(w, w_n, w_live, k_first + w_col);
  *reinterpret_cast<uint4*>(&xs[0][x_row][x_col]) = x_raw;
  store_run<F>(w_raw, &ws[0][w_row][w_col]);
  __syncthreads();

  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    const int cur = int(kt & 1);
    const bool more = kt + 1 < k_tiles;
    if (more) {
      const int64_t k0 = k_first + (kt + 1) * kBK;
      x_raw = x_live ? *reinterpret_cast<const uint4*>(x_src + k0) : make_uint4(0, 0, 0, 0);
      w_raw = Run::load(w, w_n, w_live, k0 + w_col);
    }
#pragma unroll
    for (int ks = 0; ks < kBK; ks += 16) {
      uint32_t af[2][4], bf[2][4];
#pragma unroll
      for (int mi = 0; mi < 2; ++mi) ldmatrix_x4(af[mi], &xs[cur][wm + mi * 16 + (lane % 16)][ks + (lane / 16) * 8]);
      // Matrices of one x4: (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15):
      // the two B registers of n-tile 2*nj and of n-tile 2*nj+1.
#pragma unroll
      for (int nj = 0; nj < 2; ++nj)
        ldmatrix_x4(bf[nj], &ws[cur][wn + nj * 16 + (lane % 8) + (lane / 16) * 8][ks + ((lane / 8) % 2) * 8]);
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
          mma_16816(acc[mi][ni], af[mi], bf[ni / 2][(ni % 2) * 2], bf[ni / 2][(ni % 2) * 2 + 1]);
    }
    if (more) {
      *reinterpret_cast<uint4*>(&xs[cur ^ 1][x_row][x_col]) = x_raw;
      store_run<F>(w_raw, &ws[cur ^ 1][w_row][w_col]);
    }
    __syncthreads();
  }

  // Accumulator (mi, ni): rows wm + 16 mi + lane / 4 (+ 8), columns wn + 8 ni + 2 (lane % 4) (+ 1).
  const int g = lane / 4, c2 = (lane % 4) * 2;
#pragma unroll
  for (int ni = 0; ni < 4; ++ni) {
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const int64_t n = n0 + wn + ni * 8 + c2 + c;
      if (n >= n_rows) continue;
      float col_mul = 1.0f;
      if constexpr (Run::kRowScale) col_mul = static_cast<const float*>(w.scales)[n];
      const float b = part.bias && first_slice ? part.bias[n] : 0.0f;
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int64_t t = m0 + wm + mi * 16 + g + h * 8;
          if (t < rows)
            store_gemm_out(part.out + t * n_rows + n, acc[mi][ni][h * 2 + c] * a.row_mul[t] * col_mul + b, add_out);
        }
    }
  }
}

}  // namespace

int gemm_k_splits(const GemmParts& parts, int64_t row_cap) {
  static const bool enabled = !env_is("DSE_GPU_GEMM_SPLITK", "0");
  const int64_t k = parts.part[0].w.k;
  if (!enabled || k / 64 < 16) return 1;
  int64_t columns = 0;
  for (int p = 0; p < parts.count; ++p) columns += ceil_div(parts.part[p].n, kBN);
  return columns * ceil_div(row_cap, kBM) < int64_t(current_device().multiprocessors) ? 2 : 1;
}

void launch_rows_to_f16(const float* x, int64_t k, int64_t row_cap, const StepInfo* step, const int32_t* gather,
                        int32_t gather_div, const int32_t* gather_rows, __half* xh, float* row_mul,
                        const GemmParts* zero, GpuStream stream) {
  ZeroRows z{};
  for (int p = 0; zero != nullptr && p < zero->count; ++p) {
    z.out[p] = zero->part[p].out;
    z.n[p] = zero->part[p].n;
  }
  launch_kernel(rows_to_f16_kernel, unsigned(row_cap), kRowThreads, 0, stream, x, k, row_cap, step, gather, gather_div,
                gather_rows, xh, row_mul, z);
}

template <WeightFormat F>
Status launch_gemm_tc_f16(const __half* xh, const float* row_mul, int64_t row_cap, const int32_t* group_rows,
                          int64_t groups, const GemmParts& parts, int k_splits, const StepInfo* step,
                          GpuStream stream) {
  if (gemm_wgmma_applies(parts.part[0].w.k))
    return launch_gemm_wgmma<F>(xh, row_mul, row_cap, group_rows, groups, parts, k_splits, step, stream);
  GemmArgs a;
  a.xh = xh;
  a.row_mul = row_mul;
  const int64_t columns = assign_part_tiles(parts, kBN, a.parts);
  a.k = parts.part[0].w.k;
  a.t_cap = row_cap;
  a.k_splits = group_rows ? 1 : k_splits;
  a.step = step;
  a.group_rows = group_rows;
  const dim3 grid(unsigned(columns), unsigned(ceil_div(row_cap, kBM)), unsigned(group_rows ? groups : a.k_splits));
  launch_kernel(gemm_kernel<F>, grid, kThreads, 0, stream, a);
  return launch_status("matmul_f32 (tensor cores)");
}

template <WeightFormat F>
Status launch_gemm_tc(const float* x, int64_t token_capacity, const GemmParts& parts, const GpuStep& step,
                      GpuStream stream) {
  const int64_t k = parts.part[0].w.k;
  const uint64_t need = tensor_core_scratch_bytes(token_capacity, k);
  if (step.workspace == nullptr || step.workspace_bytes < need)
    return Status(StatusCode::internal, "matmul: the tensor-core path needs " + std::to_string(need) +
                                            " bytes of workspace, the session planned " +
                                            std::to_string(step.workspace_bytes));
  __half* xh = static_cast<__half*>(step.workspace);
  float* row_mul =
      reinterpret_cast<float*>(static_cast<uint8_t*>(step.workspace) + tensor_core_x_bytes(token_capacity, k));
  const int splits = gemm_k_splits(parts, token_capacity);
  launch_rows_to_f16(x, k, token_capacity, step.d_step, nullptr, 1, nullptr, xh, row_mul,
                     splits > 1 ? &parts : nullptr, stream);
  return launch_gemm_tc_f16<F>(xh, row_mul, token_capacity, nullptr, 1, parts, splits, step.d_step, stream);
}

#endif

template Status launch_gemm_tc<WeightFormat::f16>(const float*, int64_t, const GemmParts&, const GpuStep&,
                                                  GpuStream);
template Status launch_gemm_tc<WeightFormat::bf16>(const float*, int64_t, const GemmParts&, const GpuStep&,
                                                  GpuStream);
template Status launch_gemm_tc<WeightFormat::w8>(const float*, int64_t, const GemmParts&, const GpuStep&,
                                                  GpuStream);
template Status launch_gemm_tc<WeightFormat::w4>(const float*, int64_t, const GemmParts&, const GpuStep&,
                                                  GpuStream);
template Status launch_gemm_tc<WeightFormat::fp8>(const float*, int64_t, const GemmParts&, const GpuStep&,
                                                  GpuStream);

template Status launch_gemm_tc_f16<WeightFormat::f16>(const __half*, const float*, int64_t, const int32_t*, int64_t,
                                                      const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_tc_f16<WeightFormat::bf16>(const __half*, const float*, int64_t, const int32_t*, int64_t,
                                                      const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_tc_f16<WeightFormat::w8>(const __half*, const float*, int64_t, const int32_t*, int64_t,
                                                      const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_tc_f16<WeightFormat::w4>(const __half*, const float*, int64_t, const int32_t*, int64_t,
                                                      const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_tc_f16<WeightFormat::fp8>(const __half*, const float*, int64_t, const int32_t*, int64_t,
                                                      const GemmParts&, int, const StepInfo*, GpuStream);

}  // namespace dse::gpu
