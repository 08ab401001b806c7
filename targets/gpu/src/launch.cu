// pdl_enabled() of launch.cuh: inside an OverlappedLaunches scope (gpu_launch.h), on a device of compute
// capability 9.0 or newer (asked once per device), unless DSE_GPU_PDL=0.
#include "launch.cuh"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace dse::gpu {
namespace {
thread_local bool t_overlapped = false;
}  // namespace

OverlappedLaunches::OverlappedLaunches() : previous_(t_overlapped) { t_overlapped = true; }
OverlappedLaunches::~OverlappedLaunches() { t_overlapped = previous_; }

bool pdl_enabled() {
#if defined(DSE_GPU_HIP)
  return false;
#else
  if (!t_overlapped) return false;
  static const bool allowed = [] {
    const char* v = std::getenv("DSE_GPU_PDL");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  if (!allowed) return false;
  // 0: not asked yet, 1: no, 2: yes (sessions on other threads may ask at the same time). Devices
  // are few; an index past the table asks every time.
  static std::atomic<int> cached[64] = {};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  if (dev >= 0 && dev < 64) {
    const int known = cached[dev].load(std::memory_order_relaxed);
    if (known != 0) return known == 2;
  }
  int major = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) major = 0;
  if (dev >= 0 && dev < 64) cached[dev].store(major >= 9 ? 2 : 1, std::memory_order_relaxed);
  return major >= 9;
#endif
}

}  // namespace dse::gpu
