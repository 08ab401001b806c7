// Weight runs of the tensor-core GEMMs (gemm_tc.cu's mma.sync kernel, gemm_wgmma.cu's wgmma
// kernel): 16 consecutive values of one weight row, loaded from global memory in the artifact's
// format (`load`, into `Raw`) and converted to 16 f16 values (`convert`, two 16-byte vectors of 8)
// on their way into shared memory. w4 applies its group scale here; the per-row scale of w8 and
// fp8 is applied by the GEMM's epilogue (WeightRun<F>::kRowScale). WeightRun32 is the same for 32
// values.
#pragma once

#include <cstdint>

#include "common.cuh"
#include "gemm_tc.cuh"
#include "weight_dot.cuh"

namespace dse::gpu {

__device__ __forceinline__ uint32_t half2_bits(__half2 h) { return *reinterpret_cast<uint32_t*>(&h); }
__device__ __forceinline__ __half2 bits_half2(uint32_t u) { return *reinterpret_cast<__half2*>(&u); }

template <WeightFormat F>
struct WeightRun;

template <>
struct WeightRun<WeightFormat::w4> {
  static constexpr bool kRowScale = false;
  struct Raw {
    uint2 q;
    float s0, s1;
  };  // 16 nibbles, the scales of its two runs of 8
  // The scales of `row`. Scale indices are divided in 32 bits (K < 2^32): a 64-bit division is a
  // long software sequence, and the loads take one per run.
  static __device__ __forceinline__ const uint16_t* scale_row(const WeightMatrix& w, int64_t row) {
    return static_cast<const uint16_t*>(w.scales) + row * (uint32_t(w.k) / uint32_t(w.group));
  }
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    Raw r{make_uint2(0, 0), 0.0f, 0.0f};
    if (live) {
      r.q = *reinterpret_cast<const uint2*>(w.data + row * (w.k / 2) + k0 / 2);
      const uint16_t* sc = scale_row(w, row);
      const uint32_t group = uint32_t(w.group), k = uint32_t(k0);
      r.s0 = f16_to_f32(sc[k / group]);
      r.s1 = f16_to_f32(sc[(k + 8) / group]);
    }
    return r;
  }
  // Nibble j of a 32-bit word is k = j (low nibble first). Each pair (k, k+1) becomes one half2:
  // the nibbles are placed under the exponent of 1024.0 (0x64) with PRMT, 1032 is subtracted
  // (exact: small integers) and the product with the group scale is rounded once.
  static __device__ __forceinline__ uint4 word(uint32_t q, float s) {
    const uint32_t lo = q & 0x0f0f0f0fu, hi = (q >> 4) & 0x0f0f0f0fu;                   // [n0 n2 n4 n6], [n1 n3 n5 n7]
    const uint32_t p0 = __byte_perm(lo, hi, 0x5140), p1 = __byte_perm(lo, hi, 0x7362);  // [n0 n1 n2 n3], [n4..n7]
    const __half2 bias = __float2half2_rn(1032.0f), s2 = __float2half2_rn(s);
    return make_uint4(half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p0, 0x64646464u, 0x4140)), bias), s2)),
                      half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p0, 0x64646464u, 0x4342)), bias), s2)),
                      half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p1, 0x64646464u, 0x4140)), bias), s2)),
                      half2_bits(__hmul2(__hsub2(bits_half2(__byte_perm(p1, 0x64646464u, 0x4342)), bias), s2)));
  }
  static __device__ __forceinline__ void convert(const Raw& r, uint4 (&o)[2]) {
    o[0] = word(r.q.x, r.s0);
    o[1] = word(r.q.y, r.s1);
  }
};

// 8-bit formats: 16 bytes per run.
template <>
struct WeightRun<WeightFormat::w8> {
  static constexpr bool kRowScale = true;
  using Raw = uint4;
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    return live ? *reinterpret_cast<const uint4*>(w.data + row * w.k + k0) : make_uint4(0, 0, 0, 0);
  }
  // int8 q: q ^ 0x80 = q + 128 as a byte under the exponent of 1024.0, minus 1152: exact.
  static __device__ __forceinline__ void convert(const Raw& r, uint4 (&o)[2]) {
    const __half2 bias = __float2half2_rn(1152.0f);
    uint32_t h[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t u = vec_word(r, i) ^ 0x80808080u;
      h[2 * i] = half2_bits(__hsub2(bits_half2(__byte_perm(u, 0x64646464u, 0x4140)), bias));
      h[2 * i + 1] = half2_bits(__hsub2(bits_half2(__byte_perm(u, 0x64646464u, 0x4342)), bias));
    }
    o[0] = make_uint4(h[0], h[1], h[2], h[3]);
    o[1] = make_uint4(h[4], h[5], h[6], h[7]);
  }
};

template <>
struct WeightRun<WeightFormat::fp8> {
  static constexpr bool kRowScale = true;
  using Raw = uint4;
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    return WeightRun<WeightFormat::w8>::load(w, row, live, k0);
  }
  // Every e4m3 value (subnormals included) is exactly an f16 value.
  static __device__ __forceinline__ void convert(const Raw& r, uint4 (&o)[2]) {
    uint32_t h[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint32_t u = vec_word(r, i);
      h[2 * i] = half2_bits(__floats2half2_rn(fp8e4m3_to_f32(u & 0xffu), fp8e4m3_to_f32((u >> 8) & 0xffu)));
      h[2 * i + 1] = half2_bits(__floats2half2_rn(fp8e4m3_to_f32((u >> 16) & 0xffu), fp8e4m3_to_f32(u >> 24)));
    }
    o[0] = make_uint4(h[0], h[1], h[2], h[3]);
    o[1] = make_uint4(h[4], h[5], h[6], h[7]);
  }
};

// 16-bit formats: 32 bytes per run.
template <>
struct WeightRun<WeightFormat::f16> {
  static constexpr bool kRowScale = false;
  struct Raw {
    uint4 a, b;
  };
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    if (!live) return Raw{make_uint4(0, 0, 0, 0), make_uint4(0, 0, 0, 0)};
    const uint4* p = reinterpret_cast<const uint4*>(w.data + (row * w.k + k0) * 2);
    return Raw{p[0], p[1]};
  }
  static __device__ __forceinline__ void convert(const Raw& r, uint4 (&o)[2]) {
    o[0] = r.a;
    o[1] = r.b;
  }
};

// bf16 -> f16 rounds to f16's 11-bit significand (and f16's range: |w| above 65504 would become
// inf, below 2^-24 zero; weights are far inside).
template <>
struct WeightRun<WeightFormat::bf16> {
  static constexpr bool kRowScale = false;
  using Raw = WeightRun<WeightFormat::f16>::Raw;
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    return WeightRun<WeightFormat::f16>::load(w, row, live, k0);
  }
  static __device__ __forceinline__ uint32_t pair(uint32_t u) {
    return half2_bits(__floats2half2_rn(__uint_as_float(u << 16), __uint_as_float(u & 0xffff0000u)));
  }
  static __device__ __forceinline__ void convert(const Raw& r, uint4 (&o)[2]) {
    o[0] = make_uint4(pair(r.a.x), pair(r.a.y), pair(r.a.z), pair(r.a.w));
    o[1] = make_uint4(pair(r.b.x), pair(r.b.y), pair(r.b.z), pair(r.b.w));
  }
};

// Matrix g of `w` when it holds several matrices of n rows back to back (the experts of a MoE
// layer): the data and scales advanced by g * n rows.
template <WeightFormat F>
__device__ __forceinline__ WeightMatrix matrix_of_group(WeightMatrix w, int64_t n, int64_t g) {
  const int64_t rows = g * n;
  if constexpr (F == WeightFormat::w4) {
    w.data += rows * (w.k / 2);
    w.scales = static_cast<const uint16_t*>(w.scales) + rows * (w.k / w.group);
  } else if constexpr (F == WeightFormat::w8 || F == WeightFormat::fp8) {
    w.data += rows * w.k;
    w.scales = static_cast<const float*>(w.scales) + rows;
  } else {
    w.data += rows * w.k * 2;
  }
  return w;
}

// The rows a GEMM block at token-tile offset `tile_row` covers, [m0, end): of one matrix, up to
// step_rows(step, cap); or, with group_rows, of group blockIdx.z (its matrix put in w). False
// when the block has none.
template <WeightFormat F>
__device__ __forceinline__ bool tile_rows(const int32_t* group_rows, const StepInfo* step, int64_t cap, int64_t n,
                                          int64_t tile_row, WeightMatrix& w, int64_t& m0, int64_t& end) {
  if (group_rows == nullptr) {
    m0 = tile_row;
    end = step_rows(step, cap);
  } else {
    const int64_t g = blockIdx.z;
    m0 = group_rows[g] + tile_row;
    end = group_rows[g + 1];
    w = matrix_of_group<F>(w, n, g);
  }
  return m0 < end;
}

// 32 consecutive values of one weight row (the wgmma kernel's share per thread and step): two
// runs of 16, loaded together, converted to four vectors of 8 f16 values.
template <WeightFormat F>
struct WeightRun32 {
  using Run = WeightRun<F>;
  static constexpr bool kRowScale = Run::kRowScale;
  struct Raw {
    typename Run::Raw r[2];
  };
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    return Raw{{Run::load(w, row, live, k0), Run::load(w, row, live, k0 + 16)}};
  }
  static __device__ __forceinline__ void convert(const Raw& r, uint4 (&o)[4]) {
    uint4 a[2], b[2];
    Run::convert(r.r[0], a);
    Run::convert(r.r[1], b);
    o[0] = a[0], o[1] = a[1], o[2] = b[0], o[3] = b[1];
  }
};

// w4: one 16-byte load of 32 nibbles and, for groups of a multiple of 32 (every published
// group size), one scale instead of two 8-byte loads and four scale loads. Nsight Compute put the
// wgmma kernel's L1 at 73% of its throughput with the small loads (H200, 7B q/o at 512 tokens).
template <>
struct WeightRun32<WeightFormat::w4> {
  static constexpr bool kRowScale = false;
  struct Raw {
    uint4 q;
    float s[4];
  };
  static __device__ __forceinline__ Raw load(const WeightMatrix& w, int64_t row, bool live, int64_t k0) {
    Raw r{make_uint4(0, 0, 0, 0), {0.0f, 0.0f, 0.0f, 0.0f}};
    if (live) {
      r.q = *reinterpret_cast<const uint4*>(w.data + row * (w.k / 2) + k0 / 2);
      const uint16_t* sc = WeightRun<WeightFormat::w4>::scale_row(w, row);
      const uint32_t group = uint32_t(w.group), k = uint32_t(k0);
      if (group % 32 == 0) {
        r.s[0] = r.s[1] = r.s[2] = r.s[3] = f16_to_f32(sc[k / group]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j) r.s[j] = f16_to_f32(sc[(k + 8 * j) / group]);
      }
    }
    return r;
  }
  static __device__ __forceinline__ void convert(const Raw& r, uint4 (&o)[4]) {
    using Run = WeightRun<WeightFormat::w4>;
    o[0] = Run::word(r.q.x, r.s[0]);
    o[1] = Run::word(r.q.y, r.s[1]);
    o[2] = Run::word(r.q.z, r.s[2]);
    o[3] = Run::word(r.q.w, r.s[3]);
  }
};

// The parts of a GEMM launch as its kernels read them: block columns (grid x) first_tile[p] ..
// first_tile[p + 1] - 1 cover part p's rows, `width` rows each.
struct GemmPartTiles {
  GemmPart part[kMaxGemmParts];
  int32_t first_tile[kMaxGemmParts];
  int count;
};

// Host side: the tiles of `parts` at `width` rows per block column; returns the columns of all.
inline int64_t assign_part_tiles(const GemmParts& parts, int width, GemmPartTiles& t) {
  int64_t tiles = 0;
  t.count = parts.count;
  for (int p = 0; p < kMaxGemmParts; ++p) {
    t.part[p] = parts.part[p];
    t.first_tile[p] = int32_t(tiles);
    if (p < parts.count) tiles += (parts.part[p].n + width - 1) / width;
  }
  return tiles;
}

// The part of block column `tile` and its first row n0, chosen by comparisons rather than a
// dynamic index into the parameter block (which would copy it to local memory).
__device__ __forceinline__ const GemmPart& part_of_tile(const GemmPartTiles& t, int64_t tile, int width,
                                                        int64_t& n0) {
  const int p = (t.count > 2 && tile >= t.first_tile[2]) ? 2 : ((t.count > 1 && tile >= t.first_tile[1]) ? 1 : 0);
  n0 = (tile - (p == 0 ? t.first_tile[0] : (p == 1 ? t.first_tile[1] : t.first_tile[2]))) * width;
  return p == 0 ? t.part[0] : (p == 1 ? t.part[1] : t.part[2]);
}

// K steps [begin, end) of slice `split` of `splits` (the K-split GEMM) over `steps`.
__device__ __forceinline__ void k_slice(int64_t steps, int split, int splits, int64_t& begin, int64_t& end) {
  begin = steps * split / splits;
  end = steps * (split + 1) / splits;
}

// Writes one output value, or adds it when K is split (the output holds zeros or the other slice).
__device__ __forceinline__ void store_gemm_out(float* out, float v, bool add) {
  if (add) atomicAdd(out, v);
  else *out = v;
}

}  // namespace dse::gpu
