// Tensor-core GEMM for prefill chunks (see gemm_tc.cuh). Two kernels per matmul:
//   1. rows_to_f16: x (f32) -> f16 in the workspace, with an exact power-of-two factor per row;
//   2. gemm: 64 x 128 output tiles, 8 warps of 32 x 32, K in steps of 32; both operand tiles are
//      double-buffered in shared memory, the next tile's global loads are in flight while the
//      current one runs through ldmatrix + mma.sync; weights are dequantized (w4 with its group
//      scale, w8 / fp8 / bf16 converted) when they are stored to shared memory, and the per-row
//      scale of w8 / fp8, the row factor of x and the bias are applied once in the epilogue.
#include "gemm_tc.cuh"

#include <cstdlib>

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {

#if defined(DSE_GPU_HIP)

int64_t tensor_core_min_tokens() { return kTensorCoreMinTokens; }
bool gemm_tc_applies(WeightFormat, int64_t, int64_t, int64_t) { return false; }
uint64_t gemm_tc_workspace_bytes(int64_t, int64_t) { return 0; }
template <WeightFormat F>
Status launch_gemm_tc(const float*, int64_t, const WeightMatrix&, int64_t, const float*, float*, const GpuStep&,
                      GpuStream) {
  return Status(StatusCode::unsupported, "the tensor-core GEMM is not built for HIP");
}

#else

namespace {

constexpr int kBM = 64, kBN = 128, kBK = 32;
constexpr int kStride = kBK + 8;  // halves per shared-memory row: 80 bytes, so that the 8 rows an
                                  // ldmatrix reads fall in 8 different 16-byte bank groups
constexpr int kThreads = 256;
constexpr int kRowThreads = 256;  // rows_to_f16

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

struct GemmArgs {
  const __half* xh;      // [T, K] f16 (workspace)
  const float* row_mul;  // [T] factor that undoes the row scaling
  WeightMatrix w;
  const float* bias;
  float* out;
  int64_t n, k, t_cap;
  const StepInfo* step;
};

// Largest |x| of the row picks the scale: up to 2^14 the row is used as it is; above, it is
// multiplied by 2^-e so that it stays below 2^14 (headroom for f16's 65504) and the product is
// multiplied by 2^e afterwards. Powers of two are exact, so only the f16 rounding remains.
__global__ void __launch_bounds__(kRowThreads) rows_to_f16_kernel(const float* x, int64_t k, int64_t cap,
                                                                  const StepInfo* step, __half* xh, float* row_mul) {
  grid_dependency_sync();
  __shared__ float scratch[kRowThreads / kLanes];
  const int64_t t = blockIdx.x;
  if (t >= step_rows(step, cap)) return;
  const float4* xr = reinterpret_cast<const float4*>(x + t * k);
  const int64_t n4 = k / 4;
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < n4; i += kRowThreads) {
    const float4 v = xr[i];
    m = fmaxf(m, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
  }
  m = block_max(m, scratch);
  int e = 0;
  if (m >= 16384.0f && isfinite(m)) {
    frexpf(m, &e);  // m < 2^e
    e -= 14;
  }
  const float s = ldexpf(1.0f, -e);
  uint2* dst = reinterpret_cast<uint2*>(xh + t * k);
  for (int64_t i = threadIdx.x; i < n4; i += kRowThreads) {
    const float4 v = xr[i];
    const __half2 a = __floats2half2_rn(v.x * s, v.y * s), b = __floats2half2_rn(v.z * s, v.w * s);
    dst[i] = make_uint2(*reinterpret_cast<const uint32_t*>(&a), *reinterpret_cast<const uint32_t*>(&b));
  }
  if (threadIdx.x == 0) row_mul[t] = ldexpf(1.0f, e);
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t half2_bits(__half2 h) { return *reinterpret_cast<uint32_t*>(&h); }
__device__ __forceinline__ __half2 bits_half2(uint32_t u) { return *reinterpret_cast<__half2*>(&u); }

// The weight tile of one K step: 128 rows x 32 values. Each thread owns half a row (16 values):
// row tid / 2, values [16 * (tid % 2), +16). `Raw` holds what it loaded from global memory; `store`
// converts it to 16 f16 values in shared memory.
template <WeightFormat F> struct WeightTile;

template <> struct WeightTile<WeightFormat::w4> {
  struct Raw { uint2 q; float s0, s1; };  // 16 nibbles, the scales of its two runs of 8
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    Raw r{make_uint2(0, 0), 0.0f, 0.0f};
    if (live) {
      r.q = *reinterpret_cast<const uint2*>(w.data + row * (w.k / 2) + k0 / 2);
      const uint16_t* sc = static_cast<const uint16_t*>(w.scales) + row * (w.k / w.group);
      r.s0 = f16_to_f32(sc[k0 / w.group]);
      r.s1 = f16_to_f32(sc[(k0 + 8) / w.group]);
    }
    return r;
  }
  // Nibble j of a 32-bit word is k = j (low nibble first). Each pair (k, k+1) becomes one half2:
  // the nibbles are placed under the exponent of 1024.0 (0x64) with PRMT, 1032 is subtracted
  // (exact: small integers) and the product with the group scale is rounded once.
  static __device__ __forceinline__ void word(uint32_t q, float s, uint32_t (&o)[4]) {
    const uint32_t lo = q & 0x0f0f0f0fu, hi = (q >> 4) & 0x0f0f0f0fu;  // [n0 n2 n4 n6], [n1 n3 n5 n7]
    const uint32_t p0 = __byte_perm(lo, hi, 0x5140), p1 = __byte_perm(lo, hi, 0x7362);  // [n0 n1 n2 n3], [n4..n7]
    const __half2 bias = __float2half2_rn(1032.0f), s2 = __float2half2_rn(s);
    o[0] = half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p0, 0x64646464u, 0x4140)), bias), s2));
    o[1] = half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p0, 0x64646464u, 0x4342)), bias), s2));
    o[2] = half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p1, 0x64646464u, 0x4140)), bias), s2));
    o[3] = half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p1, 0x64646464u, 0x4342)), bias), s2));
  }
  static __device__ __forceinline__ void store(const Raw& r, __half* dst) {
    uint4 a, b;
    uint32_t o[4];
    word(r.q.x, r.s0, o);
    a = make_uint4(o[0], o[1], o[2], o[3]);
    word(r.q.y, r.s1, o);
    b = make_uint4(o[0], o[1], o[2], o[3]);
    reinterpret_cast<uint4*>(dst)[0] = a;
    reinterpret_cast<uint4*>(dst)[1] = b;
  }
};

// 8-bit formats: 16 bytes per thread; the per-row scale is applied in the epilogue.
template <> struct WeightTile<WeightFormat::w8> {
  using Raw = uint4;
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    return live ? *reinterpret_cast<const uint4*>(w.data + row * w.k + k0) : make_uint4(0, 0, 0, 0);
  }
  // int8 q: q ^ 0x80 = q + 128 as a byte under the exponent of 1024.0, minus 1152: exact.
  static __device__ __forceinline__ void store(const Raw& r, __half* dst) {
    const __half2 bias = __float2half2_rn(1152.0f);
    uint32_t o[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t u = vec_word(r, i) ^ 0x80808080u;
      o[2 * i] = half2_bits(__hsub2(bits_half2(__byte_perm(u, 0x64646464u, 0x4140)), bias));
      o[2 * i + 1] = half2_bits(__hsub2(bits_half2(__byte_perm(u, 0x64646464u, 0x4342)), bias));
    }
    reinterpret_cast<uint4*>(dst)[0] = make_uint4(o[0], o[1], o[2], o[3]);
    reinterpret_cast<uint4*>(dst)[1] = make_uint4(o[4], o[5], o[6], o[7]);
  }
};

template <> struct WeightTile<WeightFormat::fp8> {
  using Raw = uint4;
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    return live ? *reinterpret_cast<const uint4*>(w.data + row * w.k + k0) : make_uint4(0, 0, 0, 0);
  }
  // Every e4m3 value (subnormals included) is exactly an f16 value.
  static __device__ __forceinline__ void store(const Raw& r, __half* dst) {
    uint32_t o[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t u = vec_word(r, i);
      o[2 * i] = half2_bits(__floats2half2_rn(fp8e4m3_to_f32(u & 0xffu), fp8e4m3_to_f32((u >> 8) & 0xffu)));
      o[2 * i + 1] = half2_bits(__floats2half2_rn(fp8e4m3_to_f32((u >> 16) & 0xffu), fp8e4m3_to_f32(u >> 24)));
    }
    reinterpret_cast<uint4*>(dst)[0] = make_uint4(o[0], o[1], o[2], o[3]);
    reinterpret_cast<uint4*>(dst)[1] = make_uint4(o[4], o[5], o[6], o[7]);
  }
};

// 16-bit formats: 32 bytes per thread.
template <> struct WeightTile<WeightFormat::f16> {
  struct Raw { uint4 a, b; };
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    if (!live) return Raw{make_uint4(0, 0, 0, 0), make_uint4(0, 0, 0, 0)};
    const uint4* p = reinterpret_cast<const uint4*>(w.data + (row * w.k + k0) * 2);
    return Raw{p[0], p[1]};
  }
  static __device__ __forceinline__ void store(const Raw& r, __half* dst) {
    reinterpret_cast<uint4*>(dst)[0] = r.a;
    reinterpret_cast<uint4*>(dst)[1] = r.b;
  }
};

// bf16 -> f16 rounds to f16's 11-bit significand (and f16's range: |w| above 65504 would become
// inf, below 2^-24 zero; weights are far inside).
template <> struct WeightTile<WeightFormat::bf16> {
  using Raw = WeightTile<WeightFormat::f16>::Raw;
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    return WeightTile<WeightFormat::f16>::load(w, row, live, k0);
  }
  static __device__ __forceinline__ uint32_t convert(uint32_t u) {
    return half2_bits(__floats2half2_rn(__uint_as_float(u << 16), __uint_as_float(u & 0xffff0000u)));
  }
  static __device__ __forceinline__ void store(const Raw& r, __half* dst) {
    reinterpret_cast<uint4*>(dst)[0] = make_uint4(convert(r.a.x), convert(r.a.y), convert(r.a.z), convert(r.a.w));
    reinterpret_cast<uint4*>(dst)[1] = make_uint4(convert(r.b.x), convert(r.b.y), convert(r.b.z), convert(r.b.w));
  }
};

template <WeightFormat F>
__global__ void __launch_bounds__(kThreads) gemm_kernel(GemmArgs a) {
  grid_dependency_sync();
  __shared__ alignas(16) __half xs[2][kBM][kStride];
  __shared__ alignas(16) __half ws[2][kBN][kStride];
  const int64_t rows = step_rows(a.step, a.t_cap);
  const int64_t m0 = int64_t(blockIdx.y) * kBM;
  if (m0 >= rows) return;
  const int64_t n0 = int64_t(blockIdx.x) * kBN;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = (warp / 4) * 32, wn = (warp % 4) * 32;

  // x tile: 64 rows x 32 halves, 16 bytes per thread.
  const int x_row = tid / 4, x_col = (tid % 4) * 8;
  const bool x_live = m0 + x_row < rows;
  const __half* x_src = a.xh + (x_live ? m0 + x_row : m0) * a.k + x_col;
  // Weight tile: half a row per thread.
  const int w_row = tid / 2, w_col = (tid % 2) * 16;
  const bool w_live = n0 + w_row < a.n;
  const int64_t w_n = n0 + w_row;

  using Tile = WeightTile<F>;
  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[i][j][c] = 0.0f;

  const int64_t k_tiles = a.k / kBK;
  uint4 x_raw = x_live ? *reinterpret_cast<const uint4*>(x_src) : make_uint4(0, 0, 0, 0);
  typename Tile::Raw w_raw = Tile::load(a.w, w_n, w_live, w_col);
  *reinterpret_cast<uint4*>(&xs[0][x_row][x_col]) = x_raw;
  Tile::store(w_raw, &ws[0][w_row][w_col]);
  __syncthreads();

  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    const int cur = int(kt & 1);
    const bool more = kt + 1 < k_tiles;
    if (more) {
      const int64_t k0 = (kt + 1) * kBK;
      x_raw = x_live ? *reinterpret_cast<const uint4*>(x_src + k0) : make_uint4(0, 0, 0, 0);
      w_raw = Tile::load(a.w, w_n, w_live, k0 + w_col);
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
      Tile::store(w_raw, &ws[cur ^ 1][w_row][w_col]);
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
      if (n >= a.n) continue;
      float col_mul = 1.0f;
      if constexpr (F == WeightFormat::w8 || F == WeightFormat::fp8) col_mul = static_cast<const float*>(a.w.scales)[n];
      const float b = a.bias ? a.bias[n] : 0.0f;
#pragma unroll
      for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int64_t t = m0 + wm + mi * 16 + g + h * 8;
          if (t < rows) a.out[t * a.n + n] = acc[mi][ni][h * 2 + c] * a.row_mul[t] * col_mul + b;
        }
    }
  }
}

}  // namespace

int64_t tensor_core_min_tokens() {
  static const int64_t min_tokens = [] {
    const char* v = std::getenv("DSE_GPU_TC_MIN_TOKENS");
    const long long n = v ? std::atoll(v) : 0;
    return n > 0 ? int64_t(n) : kTensorCoreMinTokens;
  }();
  return min_tokens;
}

bool gemm_tc_applies(WeightFormat f, int64_t token_capacity, int64_t k, int64_t group) {
  if (token_capacity < tensor_core_min_tokens() || k <= 0 || k % kBK != 0) return false;
  if (f == WeightFormat::f32) return false;
  return f != WeightFormat::w4 || (group > 0 && group % 8 == 0 && k % group == 0);
}

uint64_t gemm_tc_workspace_bytes(int64_t token_capacity, int64_t k) {
  return align_up(uint64_t(token_capacity) * uint64_t(k) * 2, 256) + align_up(uint64_t(token_capacity) * 4, 256);
}

template <WeightFormat F>
Status launch_gemm_tc(const float* x, int64_t token_capacity, const WeightMatrix& w, int64_t n, const float* bias,
                      float* out, const GpuStep& step, GpuStream stream) {
  const uint64_t need = gemm_tc_workspace_bytes(token_capacity, w.k);
  if (step.workspace == nullptr || step.workspace_bytes < need)
    return Status(StatusCode::internal, "matmul: the tensor-core path needs " + std::to_string(need) +
                            " bytes of workspace, the session planned " + std::to_string(step.workspace_bytes));
  GemmArgs a;
  a.xh = static_cast<const __half*>(step.workspace);
  a.row_mul = reinterpret_cast<const float*>(static_cast<const uint8_t*>(step.workspace) +
                                             align_up(uint64_t(token_capacity) * uint64_t(w.k) * 2, 256));
  a.w = w;
  a.bias = bias;
  a.out = out;
  a.n = n;
  a.k = w.k;
  a.t_cap = token_capacity;
  a.step = step.d_step;
  launch_kernel(rows_to_f16_kernel, unsigned(token_capacity), kRowThreads, 0, stream, x, w.k, token_capacity,
                step.d_step, const_cast<__half*>(a.xh), const_cast<float*>(a.row_mul));
  const dim3 grid(unsigned(ceil_div(n, kBN)), unsigned(ceil_div(token_capacity, kBM)));
  launch_kernel(gemm_kernel<F>, grid, kThreads, 0, stream, a);
  return launch_status("matmul_f32 (tensor cores)");
}

#endif

template Status launch_gemm_tc<WeightFormat::f16>(const float*, int64_t, const WeightMatrix&, int64_t, const float*,
                                                  float*, const GpuStep&, GpuStream);
template Status launch_gemm_tc<WeightFormat::bf16>(const float*, int64_t, const WeightMatrix&, int64_t, const float*,
                                                   float*, const GpuStep&, GpuStream);
template Status launch_gemm_tc<WeightFormat::w8>(const float*, int64_t, const WeightMatrix&, int64_t, const float*,
                                                 float*, const GpuStep&, GpuStream);
template Status launch_gemm_tc<WeightFormat::w4>(const float*, int64_t, const WeightMatrix&, int64_t, const float*,
                                                 float*, const GpuStep&, GpuStream);
template Status launch_gemm_tc<WeightFormat::fp8>(const float*, int64_t, const WeightMatrix&, int64_t, const float*,
                                                  float*, const GpuStep&, GpuStream);

}  // namespace dse::gpu
