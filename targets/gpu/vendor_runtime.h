// The host side of the compat layer: the CUDA runtime API (errors, devices, memory, streams,
// events, graphs) under its CUDA names, mapped to HIP when DSE_GPU_HIP is defined. Host code
// (kernel launchers, the runtime's GPU backend in runtime/src/gpu/) is written once with the CUDA
// spellings and built by nvcc / the host compiler against CUDA, or by hipcc / the host compiler
// against HIP; this file is the only place the names differ, so there is never a second copy of
// host logic. Host-only: a .cpp built by g++ may include it. The device side (shuffles, loads,
// warp size) is in vendor.h, which includes this file.
#pragma once

#if defined(DSE_GPU_HIP)

#include <hip/hip_runtime_api.h>
#include <hip/hip_version.h>

// Types.
#define cudaError_t hipError_t
#define cudaStream_t hipStream_t
#define cudaEvent_t hipEvent_t
#define cudaGraph_t hipGraph_t
#define cudaGraphExec_t hipGraphExec_t
#define cudaDeviceProp hipDeviceProp_t
#define cudaFuncAttributes hipFuncAttributes

// Errors.
#define cudaSuccess hipSuccess
#define cudaErrorMemoryAllocation hipErrorOutOfMemory
#define cudaGetLastError hipGetLastError
#define cudaGetErrorName hipGetErrorName
#define cudaGetErrorString hipGetErrorString

// Devices and functions. hipDeviceProp_t has the fields the backend reads under the same names
// (name, major, minor, integrated, pageableMemoryAccess, totalGlobalMem) plus gcnArchName.
#define cudaGetDevice hipGetDevice
#define cudaGetDeviceProperties hipGetDeviceProperties
#define cudaDeviceGetAttribute hipDeviceGetAttribute
#define cudaDevAttrMultiProcessorCount hipDeviceAttributeMultiprocessorCount
#define cudaDevAttrComputeCapabilityMajor hipDeviceAttributeComputeCapabilityMajor
#define cudaDeviceSynchronize hipDeviceSynchronize
#define cudaFuncSetAttribute hipFuncSetAttribute
#define cudaFuncAttributeMaxDynamicSharedMemorySize hipFuncAttributeMaxDynamicSharedMemorySize
#define cudaFuncGetAttributes hipFuncGetAttributes  // takes `const void*`: cast the kernel
#define cudaOccupancyMaxActiveBlocksPerMultiprocessor hipOccupancyMaxActiveBlocksPerMultiprocessor

// Memory. cudaMallocHost has no flags argument; hipMallocHost, its HIP twin, is deprecated.
#define cudaMalloc hipMalloc
#define cudaFree hipFree
#define cudaMallocHost(ptr, bytes) hipHostMalloc((ptr), (bytes), hipHostMallocDefault)
#define cudaFreeHost hipHostFree
#define cudaHostRegister hipHostRegister
#define cudaHostUnregister hipHostUnregister
#define cudaHostGetDevicePointer hipHostGetDevicePointer
#define cudaHostRegisterMapped hipHostRegisterMapped
#if defined(hipHostRegisterReadOnly)
#define cudaHostRegisterReadOnly hipHostRegisterReadOnly
#else
// ROCm 5.2 has no read-only registration; it is only a hint (the device never writes weights).
#define cudaHostRegisterReadOnly 0
#endif
#define cudaMemGetInfo hipMemGetInfo
#define cudaMemset hipMemset
#define cudaMemsetAsync hipMemsetAsync
#define cudaMemcpy hipMemcpy
#define cudaMemcpyAsync hipMemcpyAsync
#define cudaMemcpyHostToDevice hipMemcpyHostToDevice
#define cudaMemcpyDeviceToHost hipMemcpyDeviceToHost
#define cudaMemcpyDeviceToDevice hipMemcpyDeviceToDevice

// Streams and events.
#define cudaStreamCreateWithFlags hipStreamCreateWithFlags
#define cudaStreamNonBlocking hipStreamNonBlocking
#define cudaStreamDestroy hipStreamDestroy
#define cudaStreamSynchronize hipStreamSynchronize
#define cudaEventCreate hipEventCreate
#define cudaEventDestroy hipEventDestroy
#define cudaEventRecord hipEventRecord
#define cudaEventSynchronize hipEventSynchronize
#define cudaEventElapsedTime hipEventElapsedTime

// Graphs: stream capture, instantiate, replay. CUDA 12's cudaGraphInstantiate(exec, graph, flags)
// is hipGraphInstantiateWithFlags (hipGraphInstantiate is CUDA 11's five-argument form).
#define cudaStreamBeginCapture hipStreamBeginCapture
#define cudaStreamEndCapture hipStreamEndCapture
#define cudaStreamCaptureModeGlobal hipStreamCaptureModeGlobal
#define cudaStreamCaptureModeThreadLocal hipStreamCaptureModeThreadLocal
#define cudaStreamCaptureModeRelaxed hipStreamCaptureModeRelaxed
#define cudaGraphInstantiate hipGraphInstantiateWithFlags
#define cudaGraphLaunch hipGraphLaunch
#define cudaGraphDestroy hipGraphDestroy
#define cudaGraphExecDestroy hipGraphExecDestroy
#if HIP_VERSION_MAJOR >= 6
#define cudaGraphUpload hipGraphUpload
#else
// ROCm 5 has no hipGraphUpload (an optimisation only): the first launch uploads the graph, and
// the backend launches every graph once at session creation anyway.
inline hipError_t dse_hip_graph_upload(hipGraphExec_t, hipStream_t) { return hipSuccess; }
#define cudaGraphUpload dse_hip_graph_upload
#endif

#else

#include <cuda_runtime.h>

#endif

namespace dse::gpu {

// Words for messages, so that a user of either vendor is told about their own tools.
#if defined(DSE_GPU_HIP)
inline constexpr const char* kVendorApi = "HIP";
inline constexpr const char* kVendorSmi = "rocm-smi";
inline constexpr const char* kArchitecturesVariable = "CMAKE_HIP_ARCHITECTURES";
#else
inline constexpr const char* kVendorApi = "CUDA";
inline constexpr const char* kVendorSmi = "nvidia-smi";
inline constexpr const char* kArchitecturesVariable = "CMAKE_CUDA_ARCHITECTURES";
#endif

}  // namespace dse::gpu
