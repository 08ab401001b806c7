// The thin compat layer that lets one kernel source build as CUDA (nvcc) or as HIP (hipcc):
// warp intrinsics, streaming loads and the warp size of the target here, the runtime API names
// in vendor_runtime.h (which host-only code, such as the runtime's GPU backend, includes alone).
// Kernel sources use the CUDA spellings; under DSE_GPU_HIP they are mapped to HIP by these two
// files and nowhere else, so there is never a second copy of a kernel.
#pragma once

#if defined(DSE_GPU_HIP)

#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>

// HIP's shuffles take no member mask: a wave always executes them together.
#define __shfl_xor_sync(mask, var, lane_mask, width) __shfl_xor(var, lane_mask, width)
#define __shfl_sync(mask, var, src_lane, width) __shfl(var, src_lane, width)

#else

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#endif

// The runtime API names (streams, memory, errors, attributes): shared with host-only code.
#include "vendor_runtime.h"

#include <cstdint>

namespace dse::gpu {

// Threads that execute in lockstep on the target: 32 on NVIDIA and RDNA (wave32), 64 on CDNA
// (gfx9: MI100/MI200/MI300). Host code must not use it (the host pass sees no target); kernels
// use it only to size per-warp shared memory.
#if defined(DSE_GPU_HIP) && defined(__GFX9__)
inline constexpr int kWarpSize = 64;
#else
inline constexpr int kWarpSize = 32;
#endif

// Width of every shuffle reduction in the kernels. Kernels are written for groups of 32 lanes
// ("logical warps"); on a wave64 target a wave holds two of them and `width = 32` keeps the
// shuffles inside each, so the same source is correct for wave32 and wave64. Block sizes are
// multiples of 64 so that no wave64 is ever partially filled.
inline constexpr int kLanes = 32;

// Makes a warp's shared-memory writes visible to its own lanes (a block barrier for one warp).
// HIP 5.2 has no __syncwarp: a wavefront-scope fence and the wave barrier do the same there.
__device__ __forceinline__ void sync_warp() {
#if defined(DSE_GPU_HIP)
  __builtin_amdgcn_fence(__ATOMIC_RELEASE, "wavefront");
  __builtin_amdgcn_wave_barrier();
  __builtin_amdgcn_fence(__ATOMIC_ACQUIRE, "wavefront");
#else
  __syncwarp();
#endif
}

// A 16-byte load of weights that are read once per step: bypass L1 allocation so the
// activations that are reused stay cached.
__device__ __forceinline__ uint4 load_stream16(const void* p) {
#if defined(DSE_GPU_HIP)
  return *static_cast<const uint4*>(p);  // TODO(hip): a nontemporal load once measured
#else
  uint4 v;
  // volatile: an asm without memory operands is otherwise free to be executed speculatively,
  // before the bounds test of its caller (weight_dot.cuh).
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "l"(p));
  return v;
#endif
}

// A 16-byte copy from global to shared memory that does not pass through registers: on sm_80+ an
// asynchronous copy (cp.async, L1 bypassed), finished by copy_async_wait_all(); elsewhere (HIP,
// older targets) a plain load and store, already finished when it returns. Both pointers 16-byte
// aligned.
__device__ __forceinline__ void copy_async16(void* smem, const void* gmem) {
#if !defined(DSE_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(gmem) : "memory");
#else
  *static_cast<uint4*>(smem) = *static_cast<const uint4*>(gmem);
#endif
}

// Waits for this thread's copy_async16 copies (the block still needs a barrier before reading
// other threads' copies).
__device__ __forceinline__ void copy_async_wait_all() {
#if !defined(DSE_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_all;" ::: "memory");
#endif
}

// c + the sum of the four products of a's and b's signed bytes (dp4a on NVIDIA, sm_61 and newer).
__device__ __forceinline__ int dot4_i8(int a, int b, int c) {
#if defined(DSE_GPU_HIP)
  // TODO(hip): __builtin_amdgcn_sdot4 where the target has it (gfx906+, gfx1030), once measured.
#pragma unroll
  for (int i = 0; i < 4; ++i) c += int(int8_t(a >> (8 * i))) * int(int8_t(b >> (8 * i)));
  return c;
#else
  return __dp4a(a, b, c);
#endif
}

// A 16-byte load of data that is read by many threads (activations): through the read-only cache.
__device__ __forceinline__ float4 load_shared16(const float* p) {
  return __ldg(reinterpret_cast<const float4*>(p));
}

}  // namespace dse::gpu
