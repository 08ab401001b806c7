// wgmma prefill GEMM (see gemm_wgmma.cuh). One block computes a (64 x kGroups) x 128 tile of
// out: kGroups warpgroups, each 64 token rows against the same 128 weight rows, K in steps of 64.
// Each step's two operand tiles sit in shared memory in the layout wgmma reads without swizzle:
// 8 x 8 "core matrices" of f16 (8 rows of 16 bytes, 128 contiguous bytes), core matrix (r, c) of a
// tile of R rows at (c * R / 8 + r) * 128 bytes, so the descriptor's K-direction offset is R * 16
// bytes and its row-direction offset 128.
//
// The MMAs are asynchronous, so nothing hides a load's latency behind them unless it was issued
// steps earlier: while the tensor cores run step s, the block converts and stores the weights of
// step s + 1 (in registers since step s - 2), issues the loads of step s + 3, and x of step s + 3
// is on its way by cp.async into the fourth of four x buffers. The proxy fence that orders the
// stores before the tensor cores' reads comes before the new loads are issued. Measured on an
// H200 (7B q/o, int4, 512 tokens): loading one step ahead ran at 206 us against mma.sync's 151;
// this pipeline with 32-bit scale indexing and one 16-byte load per 32 weights runs at 109.
#include "gemm_wgmma.cuh"

#include <type_traits>

#include "common.cuh"
#include "gemm_tile.cuh"
#include "launch.cuh"
#include "mma_sm80.cuh"

namespace dse::gpu {

#if defined(DSE_GPU_HIP) || !defined(DSE_GPU_HAS_SM90A)

bool gemm_wgmma_applies(int64_t) { return false; }
template <WeightFormat F>
Status launch_gemm_wgmma(const __half*, const float*, int64_t, const int32_t*, int64_t, const GemmParts&, int,
                         const StepInfo*, GpuStream) {
  return Status(StatusCode::unsupported, "the wgmma GEMM is built only for sm_90a");
}

#else

namespace {

constexpr int kBN = 128, kBK = 64;

// Four x tiles in shared memory (x of step s + 3 is copied while step s runs), two weight tiles,
// two register sets of raw weights (step s + 3 is loaded while step s runs). Measured on an H200
// (session 8, int4 at 512 tokens): four x tiles against three took the 7B down projection from
// 291 to 277 us and the 1.5B's from 129 to 121 (gate_up 497 -> 503 and 186 -> 189), 1.5B prefill
// 42.2k -> 42.7k tok/s and 7B 12.84k -> 12.90k end to end; three register sets gained nothing
// more, and leaving each step's MMAs running while the next step issued its own (three weight
// tiles, 112 KB a block) lost 10% (1.5B 42.2k -> 38.2k).
template <int kGroups>
struct Tiles {
  static constexpr int kBM = 64 * kGroups, kThreads = 128 * kGroups;
  static constexpr int kXBytes = kBM * kBK * 2, kWBytes = kBN * kBK * 2;
  static constexpr int kXStages = 4, kWStages = 2;
  static constexpr int kSmemBytes = kXStages * kXBytes + kWStages * kWBytes;
  // Blocks per multiprocessor the registers must allow: two of 256 threads caps them at 128 a
  // thread; one warpgroup's fp8 and bf16 conversions take up to 206, more than three blocks allow.
  static constexpr int kMinBlocks = 2;
};

struct WgmmaArgs {
  const __half* xh;
  const float* row_mul;
  GemmPartTiles parts;  // block column -> part (gemm_tile.cuh)
  int64_t k, t_cap;
  int k_splits;               // slices of K (grid z) when group_rows is null
  const StepInfo* step;
  const int32_t* group_rows;  // null, or [groups + 1] row offsets (gemm_tc.cuh)
};

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)  // device helpers of the sm_90a pass (unused by the others)

constexpr int kCoreBytes = 128;  // one 8 x 8 f16 core matrix

// D (64 x 128, f32, in this warpgroup's registers) += A (64 x 16) B (128 x 16)^T, both operands
// K-major in shared memory; issued by all 128 threads of the warpgroup together.
__device__ __forceinline__ void wgmma_m64n128k16(float (&d)[64], uint64_t a_desc, uint64_t b_desc) {
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "setp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
      "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
      "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
      "%64, %65, p, 1, 1, 0, 0;\n"
      "}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]),
        "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]),
        "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]),
        "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
      : "l"(a_desc), "l"(b_desc), "n"(1));
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait_all() { asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory"); }
// Orders this thread's ordinary shared-memory writes before the tensor cores' (async proxy) reads.
__device__ __forceinline__ void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;" ::: "memory"); }
// Keeps the compiler from moving accesses of an accumulator across the asynchronous MMAs.
__device__ __forceinline__ void fence_registers(float (&d)[64]) {
#pragma unroll
  for (int i = 0; i < 64; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// Shared-memory matrix descriptor without swizzle: start address, the offset between core
// matrices along K ("leading") and along M/N ("stride"), all in units of 16 bytes.
__device__ __forceinline__ uint64_t smem_descriptor(const void* p, uint32_t k_offset, uint32_t mn_offset) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  return uint64_t((addr & 0x3ffff) >> 4) | (uint64_t(k_offset >> 4) << 16) | (uint64_t(mn_offset >> 4) << 32);
}

// Byte offset of row r, 16-byte column c (values 8c .. 8c + 7) in a tile of `rows` rows.
__device__ __forceinline__ int tile_offset(int rows, int r, int c) {
  return (c * (rows / 8) + r / 8) * kCoreBytes + (r % 8) * 16;
}

#endif

// kSplitK: K is cut into a.k_splits slices (grid z) that add into a zeroed output. The other
// instance has no slice arithmetic in its address computations and plain stores. Session 8 found
// unsplit GEMMs 2-4% slower after the split was added (7B q/o 109.5 -> 112.7 us, gate_up 495 ->
// 504); this instance gets back only about 0.5% of it (H200, same call against 4eeab22: q/o
// 112.8 -> 112.4, gate_up 503.1 -> 501.8, 7B down 277.1 -> 275.6, 1.5B gate_up 189.1 -> 187.1)
// and int4's registers return to session 7's 121 (two warpgroups) and 186 (one).
template <WeightFormat F, int kGroups, bool kSplitK>
__global__ void __launch_bounds__(Tiles<kGroups>::kThreads, Tiles<kGroups>::kMinBlocks) wgmma_gemm_kernel(WgmmaArgs a) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)  // the sm_90a pass; the other architectures' kernel is empty
  using T = Tiles<kGroups>;
  using Run = WeightRun32<F>;
  constexpr int kXAhead = T::kXStages - 1;  // x of step s + kXAhead is copied while step s runs
  extern __shared__ __align__(128) uint8_t smem[];
  grid_dependency_sync();
  int64_t n0;
  const GemmPart& part = part_of_tile(a.parts, blockIdx.x, kBN, n0);
  WeightMatrix w = part.w;
  const int64_t n_rows = part.n;
  int64_t m0, rows;
  if (!tile_rows<F>(a.group_rows, a.step, a.t_cap, n_rows, int64_t(blockIdx.y) * T::kBM, w, m0, rows)) return;
  // This block's slice of K, in steps: all of it, or one of k_splits (grid z) added into out.
  int64_t k_begin = 0, k_end = a.k / kBK;
  if constexpr (kSplitK) k_slice(a.k / kBK, int(blockIdx.z), a.k_splits, k_begin, k_end);
  const bool add_out = kSplitK;
  const bool first_slice = !kSplitK || blockIdx.z == 0;
  const int tid = threadIdx.x;

  // x: T::kBM rows x 8 columns of 16 bytes, 4 per thread. Eight consecutive threads take eight
  // consecutive rows of one column: one core matrix, 128 contiguous bytes, no bank conflict.
  // Rows past the step's end copy the last row (their results are not stored).
  constexpr int kXCopies = T::kBM * 8 / T::kThreads;
  const __half* x_src[kXCopies];
  int x_dst[kXCopies];
#pragma unroll
  for (int i = 0; i < kXCopies; ++i) {
    const int c = tid + i * T::kThreads, r = (c % 8) + (c / 64) * 8, col = (c / 8) % 8;
    x_src[i] = a.xh + min(m0 + r, rows - 1) * a.k + col * 8;
    x_dst[i] = tile_offset(T::kBM, r, col);
  }
  // Weights: 128 rows x 2 halves of 32 values; a thread owns 256 / kThreads halves, rows
  // consecutive across the warp. Two register sets: steps s + 1 and s + 2.
  constexpr int kWHalves = 2 * kBN / T::kThreads;
  typename Run::Raw raw[2][kWHalves];
  const int64_t k_steps = k_end - k_begin;
  auto load_w = [&](auto set, int64_t ks) {
    if (ks >= k_steps) return;
#pragma unroll
    for (int i = 0; i < kWHalves; ++i) {
      const int h = tid + i * T::kThreads, r = h % kBN, half = h / kBN;
      const int64_t row = n0 + r;
      raw[decltype(set)::value][i] = Run::load(w, row, row < n_rows, (k_begin + ks) * kBK + half * 32);
    }
  };
  uint8_t* const xs = smem;
  uint8_t* const ws = smem + T::kXStages * T::kXBytes;
  auto store_w = [&](auto set, int64_t ks) {
    if (ks >= k_steps) return;
    uint8_t* dst = ws + (ks % T::kWStages) * T::kWBytes;
#pragma unroll
    for (int i = 0; i < kWHalves; ++i) {
      const int h = tid + i * T::kThreads, r = h % kBN, half = h / kBN;
      uint4 o[4];
      Run::convert(raw[decltype(set)::value][i], o);
#pragma unroll
      for (int j = 0; j < 4; ++j) *reinterpret_cast<uint4*>(dst + tile_offset(kBN, r, half * 4 + j)) = o[j];
    }
  };
  // Always commits a group (possibly empty), so that "all but the newest kXAhead - 1 groups" is
  // step s + 1.
  auto copy_x = [&](int64_t ks) {
    if (ks < k_steps) {
      uint8_t* dst = xs + (ks % T::kXStages) * T::kXBytes;
#pragma unroll
      for (int i = 0; i < kXCopies; ++i) copy_async16(dst + x_dst[i], x_src[i] + (k_begin + ks) * kBK);
    }
    copy_async_commit();
  };

  float acc[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) acc[i] = 0.0f;
  const int group = tid / 128;
  using Set0 = std::integral_constant<int, 0>;
  using Set1 = std::integral_constant<int, 1>;

#pragma unroll
  for (int s = 0; s < kXAhead; ++s) copy_x(s);
  load_w(Set0{}, 0);
  load_w(Set1{}, 1);
  store_w(Set0{}, 0);
  load_w(Set0{}, 2);
  copy_async_wait_group<kXAhead - 1>();
  fence_async_shared();
  __syncthreads();

  // Step ks: set (ks + 1) % 2 holds the weights of step ks + 1, the other set those of ks + 2.
  auto step = [&](auto next_set, int64_t ks) {
    const uint8_t* x_cur = xs + (ks % T::kXStages) * T::kXBytes;
    const uint8_t* w_cur = ws + (ks % T::kWStages) * T::kWBytes;
    fence_registers(acc);
    wgmma_fence();
#pragma unroll
    for (int s = 0; s < kBK / 16; ++s) {
      // 16 values of K are two core-matrix columns.
      const uint64_t da =
          smem_descriptor(x_cur + group * 8 * kCoreBytes + 2 * s * T::kBM * 16, T::kBM * 16, kCoreBytes);
      const uint64_t db = smem_descriptor(w_cur + 2 * s * kBN * 16, kBN * 16, kCoreBytes);
      wgmma_m64n128k16(acc, da, db);
    }
    wgmma_commit();
    copy_x(ks + kXAhead);
    store_w(next_set, ks + 1);
    // x of step ks + 1 has landed and both tiles of step ks + 1 are ordered before the tensor
    // cores' reads; the fence comes before the next loads are issued, not after.
    copy_async_wait_group<kXAhead - 1>();
    fence_async_shared();
    load_w(next_set, ks + 3);
    wgmma_wait_all();
    fence_registers(acc);
    __syncthreads();
  };
  for (int64_t ks = 0; ks < k_steps; ks += 2) {
    step(Set1{}, ks);
    if (ks + 1 < k_steps) step(Set0{}, ks + 1);
  }

  // Accumulator layout: warp w of the warpgroup holds rows 16 w + lane / 4 (+ 8); register
  // 4 j + 2 h + c is column 8 j + 2 (lane % 4) + c of row + 8 h.
  const int lane = tid % 32, warp = (tid % 128) / 32;
  const int64_t t_base = m0 + group * 64 + warp * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < 16; ++j) {
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const int64_t n = n0 + j * 8 + (lane % 4) * 2 + c;
      if (n >= n_rows) continue;
      float col_mul = 1.0f;
      if constexpr (Run::kRowScale) col_mul = static_cast<const float*>(w.scales)[n];
      const float b = part.bias && first_slice ? part.bias[n] : 0.0f;
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int64_t t = t_base + h * 8;
        if (t < rows) store_gemm_out(part.out + t * n_rows + n, acc[4 * j + 2 * h + c] * a.row_mul[t] * col_mul + b, add_out);
      }
    }
  }
#endif
}

template <WeightFormat F, int kGroups, bool kSplitK>
Status launch(const WgmmaArgs& a, int64_t columns, int64_t z, GpuStream stream) {
  using T = Tiles<kGroups>;
  auto kernel = wgmma_gemm_kernel<F, kGroups, kSplitK>;
  if (!allow_dynamic_smem(kernel, T::kSmemBytes)) return launch_status("matmul_f32 (wgmma): shared memory limit");
  const dim3 grid(unsigned(columns), unsigned(ceil_div(a.t_cap, T::kBM)), unsigned(z));
  launch_kernel(kernel, grid, T::kThreads, T::kSmemBytes, stream, a);
  return launch_status("matmul_f32 (wgmma)");
}

}  // namespace

bool gemm_wgmma_applies(int64_t k) {
  static const bool enabled = !env_is("DSE_GPU_WGMMA", "0");
  return enabled && k > 0 && k % kBK == 0 && current_device().cc_major == 9;
}

template <WeightFormat F>
Status launch_gemm_wgmma(const __half* xh, const float* row_mul, int64_t row_cap, const int32_t* group_rows,
                         int64_t groups, const GemmParts& parts, int k_splits, const StepInfo* step,
                         GpuStream stream) {
  WgmmaArgs a{xh, row_mul, {}, parts.part[0].w.k, row_cap, group_rows ? 1 : k_splits, step, group_rows};
  const int64_t columns = assign_part_tiles(parts, kBN, a.parts);
  const int64_t z = group_rows ? groups : a.k_splits;
  // Two warpgroups per block halve the weight conversions per token; one alone doubles the blocks
  // where two would not give each multiprocessor two blocks (their steps overlap). Groups (MoE
  // experts) hold a few dozen rows each, and a split K already has few blocks: one warpgroup.
  if (z == 1 && columns * ceil_div(row_cap, Tiles<2>::kBM) >= 2 * int64_t(current_device().multiprocessors))
    return launch<F, 2, false>(a, columns, z, stream);
  if (a.k_splits > 1) return launch<F, 1, true>(a, columns, z, stream);
  return launch<F, 1, false>(a, columns, z, stream);
}

#endif

template Status launch_gemm_wgmma<WeightFormat::f16>(const __half*, const float*, int64_t, const int32_t*, int64_t,
    const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_wgmma<WeightFormat::bf16>(const __half*, const float*, int64_t, const int32_t*, int64_t,
    const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_wgmma<WeightFormat::w8>(const __half*, const float*, int64_t, const int32_t*, int64_t,
    const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_wgmma<WeightFormat::w4>(const __half*, const float*, int64_t, const int32_t*, int64_t,
    const GemmParts&, int, const StepInfo*, GpuStream);
template Status launch_gemm_wgmma<WeightFormat::fp8>(const __half*, const float*, int64_t, const int32_t*, int64_t,
    const GemmParts&, int, const StepInfo*, GpuStream);

}  // namespace dse::gpu
