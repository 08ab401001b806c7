// Kernel launches with programmatic dependent launch (PDL, sm_90 and newer).
//
// A decode step is a chain of ~10 short kernels per layer, each depending on the one before. In
// plain stream order a kernel starts only after its predecessor has finished and its results were
// flushed, so every link costs the launch latency and the ramp-up of a new grid. With PDL the next
// kernel is launched while the current one still runs: its blocks become resident, do what does
// not depend on the predecessor (a GEMV loads its first weights, which no kernel writes), and
// then wait in grid_dependency_wait() until the predecessor has completed and its memory is
// visible. That wait is the ordering the stream gave before, so every kernel launched by
// launch_kernel must call grid_dependency_wait() before it reads anything an earlier kernel wrote
// or writes anything an earlier kernel reads, in every block, including blocks that have no work
// (a block that exits without waiting would let the grid complete before its predecessor).
//
// Each kernel calls allow_dependents() right after its wait, so at most two grids overlap: the
// running one and the next one, prefetching. Launches use PDL only inside an OverlappedLaunches
// scope (gpu_launch.h: the runtime opens one for the decode step) and not with DSE_GPU_PDL=0;
// HIP and devices before sm_90 always launch plainly, and the device functions are no-ops there.
// Without the attribute the wait returns at once: the stream has already ordered the kernels.
#pragma once

#include <utility>

#include "dse/gpu/gpu_launch.h"
#include "vendor.h"

namespace dse::gpu {

// Waits until every grid this one depends on has completed and its writes are visible.
__device__ __forceinline__ void grid_dependency_wait() {
#if !defined(DSE_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

// Lets the next kernel of the stream be launched before this one has finished.
__device__ __forceinline__ void allow_dependents() {
#if !defined(DSE_GPU_HIP) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Both, for kernels with nothing to do before their inputs are ready.
__device__ __forceinline__ void grid_dependency_sync() {
  grid_dependency_wait();
  allow_dependents();
}

// What launch decisions need to know of the current device, asked once per device (from any
// thread): its multiprocessors (an H100's 132 when unknown: only grid sizes depend on it) and its
// compute capability's major number (0 when unknown).
struct DeviceFacts {
  int multiprocessors = 132;
  int cc_major = 0;
};
DeviceFacts current_device();

// Whether a launch now uses PDL: inside an OverlappedLaunches scope, on a device of compute
// capability 9.0 or newer, not turned off by DSE_GPU_PDL=0.
bool pdl_enabled();

// Lets `kernel` take `bytes` of dynamic shared memory (past the default 48 KiB). Asked before every
// launch, not once: the limit belongs to the current device's context. False when the device
// cannot give that much; the CUDA error is left for the caller (launch_status, or cleared where it
// falls back to another kernel).
template <typename... Params>
bool allow_dynamic_smem(void (*kernel)(Params...), size_t bytes) {
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(bytes)) == cudaSuccess;
}

// kernel<<<grid, block, smem, stream>>>(args...), with the PDL attribute where pdl_enabled().
// Errors surface through cudaGetLastError (launch_status) as for a plain launch.
template <typename... Params, typename... Args>
void launch_kernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, GpuStream stream, Args&&... args) {
#if !defined(DSE_GPU_HIP)
  if (pdl_enabled()) {
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[0].val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config = {};
    config.gridDim = grid;
    config.blockDim = block;
    config.dynamicSmemBytes = smem;
    config.stream = stream;
    config.attrs = attr;
    config.numAttrs = 1;
    (void)cudaLaunchKernelEx(&config, kernel, std::forward<Args>(args)...);
    return;
  }
#endif
  kernel<<<grid, block, smem, stream>>>(std::forward<Args>(args)...);
}

}  // namespace dse::gpu
