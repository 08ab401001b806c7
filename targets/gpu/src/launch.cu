// current_device() and pdl_enabled() of launch.cuh: inside an OverlappedLaunches scope
// (gpu_launch.h), on a device of compute capability 9.0 or newer, unless DSE_GPU_PDL=0.
#include "launch.cuh"

#include <atomic>

#include "common.cuh"

namespace dse::gpu {
namespace {
thread_local bool t_overlapped = false;
}  // namespace

OverlappedLaunches::OverlappedLaunches() : previous_(t_overlapped) { t_overlapped = true; }
OverlappedLaunches::~OverlappedLaunches() { t_overlapped = previous_; }

DeviceFacts current_device() {
  // Per device: 0 until asked, then (multiprocessors << 8) | (cc_major << 1) | 1. Sessions on
  // other threads may ask at the same time; devices are few, one past the table asks every time.
  static std::atomic<uint32_t> cached[64] = {};
  DeviceFacts facts;
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return facts;
  if (dev >= 0 && dev < 64) {
    const uint32_t known = cached[dev].load(std::memory_order_relaxed);
    if (known != 0) return {int(known >> 8), int((known >> 1) & 0x7f)};
  }
  int sms = 0, major = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && sms > 0 && sms < (1 << 23))
    facts.multiprocessors = sms;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess && major > 0 &&
      major < 128)
    facts.cc_major = major;
  if (dev >= 0 && dev < 64)
    cached[dev].store((uint32_t(facts.multiprocessors) << 8) | (uint32_t(facts.cc_major) << 1) | 1u,
                      std::memory_order_relaxed);
  return facts;
}

bool pdl_enabled() {
#if defined(DSE_GPU_HIP)
  return false;
#else
  if (!t_overlapped) return false;
  static const bool allowed = !env_is("DSE_GPU_PDL", "0");
  return allowed && current_device().cc_major >= 9;
#endif
}

}  // namespace dse::gpu
