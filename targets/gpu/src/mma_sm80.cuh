// Warp-level tensor-core primitives of sm_80 and newer (CUDA only: empty in HIP builds):
// ldmatrix, mma.sync m16n8k16 with f16 inputs and f32 accumulators, and the cp.async group
// fences. Used by the mma.sync GEMM (gemm_tc.cu), the wgmma GEMM's x copies (gemm_wgmma.cu) and
// the tensor-core prefill attention kernels (flash_tile.cuh).
//
// Fragment layouts (PTX ISA, "mma.m16n8k16"): with g = lane / 4 and c = 2 (lane % 4), the A
// registers hold (row g, cols c, c+1), (row g+8, cols c, c+1), (row g, cols c+8, c+9), (row g+8,
// cols c+8, c+9); B registers (k c, c+1 | k c+8, c+9) of column g; the accumulators (row g, cols
// c, c+1) and (row g+8, cols c, c+1).
#pragma once

#if !defined(DSE_GPU_HIP)

#include <cuda_fp16.h>

#include <cstdint>

namespace dse::gpu {

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Four 8x8 b16 matrices; lane l gives the address of row l % 8 of matrix l / 8.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// The same, each matrix transposed: B fragments from a tile stored with n contiguous.
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

// d += a (16 x 16, row-major) * b (16 x 8, column-major).
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats as the half2 register of an A fragment (x in the low half).
__device__ __forceinline__ uint32_t pack_half2(float x, float y) {
  const __half2 h = __floats2half2_rn(x, y);
  return *reinterpret_cast<const uint32_t*>(&h);
}

// Closes this thread's group of copy_async16 copies (vendor.h).
__device__ __forceinline__ void copy_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
// Waits until at most one committed group of this thread's cp.async copies is still in flight.
__device__ __forceinline__ void copy_async_wait_but_one() { asm volatile("cp.async.wait_group 1;" ::: "memory"); }
// Waits until at most N committed groups of this thread's cp.async copies are still in flight.
template <int N>
__device__ __forceinline__ void copy_async_wait_group() {
  asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

}  // namespace dse::gpu

#endif  // !DSE_GPU_HIP
