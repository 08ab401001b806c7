// The compile targets (GPU/CPU architectures) and the devices dsc and the runtime know, as data:
// backend, features, warp size, shared memory, device memory and bandwidth, with sources.
// The table itself and where each number comes from: targets/src/target_registry.cpp, docs/TARGETS.md.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "dse/status.h"

namespace dse::targets {

enum class Backend : uint8_t { cpu, cuda, hip };

// "cpu", "cuda", "hip" (the strings of TargetInfo.backend in artifact.fbs).
std::string_view backend_name(Backend backend);

// What the kernels of a target may use. Tensor-core types are the input types of the matrix
// instructions (NVIDIA mma/wgmma, AMD MFMA on CDNA, WMMA on RDNA3).
struct TargetFeatures {
  bool tensor_core_fp16 = false;
  bool tensor_core_bf16 = false;
  bool tensor_core_int8 = false;
  bool tensor_core_fp8 = false;
  bool fp8 = false;       // hardware fp8 conversion and arithmetic (gfx942: the FNUZ variants)
  bool int8_dot = false;  // 4-way int8 dot product into int32: dp4a (NVIDIA), v_dot4 (AMD)
  bool wgmma = false;     // Hopper warpgroup MMA; needs code built for sm_90a
};

struct TargetDesc {
  std::string_view name;          // registry key and TargetInfo.name: "cpu", "sm_90", "gfx942"
  Backend backend = Backend::cpu;
  std::string_view compile_arch;  // what nvcc / hipcc is given: "sm_90a", "gfx942"; "" for cpu
  std::string_view description;   // the architecture and example products
  TargetFeatures features;
  uint32_t warp_size = 1;         // threads per warp / wavefront; 1 for cpu (no SIMT)
  uint64_t max_shared_memory_per_block_bytes = 0;  // with the opt-in attribute; 0 for cpu
  std::string_view source;        // where the numbers come from
};

struct DeviceDesc {
  std::string_view id;            // short key for --device: "orin-nano-8gb"
  std::string_view name;          // product name: "Jetson Orin Nano 8GB"
  std::string_view target;        // a TargetDesc name
  uint64_t total_memory_bytes = 0;
  // What one application can plan to allocate: total minus what the OS (shared memory on
  // Jetson), the driver, ECC and the CUDA/HIP context take. The rule is in `usable_memory_basis`.
  uint64_t usable_memory_bytes = 0;
  double memory_bandwidth_gb_per_s = 0;  // peak DRAM bandwidth, 10^9 bytes per second
  bool integrated = false;        // GPU shares system memory with the CPU (Jetson)
  std::string_view source;        // vendor datasheet for memory size and bandwidth
  std::string_view usable_memory_basis;  // the reasoning behind usable_memory_bytes
};

// Every known target / device, in a stable order (the order of the table).
std::span<const TargetDesc> all_targets();
std::span<const DeviceDesc> all_devices();

// Looks a target up by name, ignoring case ("SM_90" finds sm_90). The pointer is to static
// data and never dangles. Errors: not_found, listing every known target.
Result<const TargetDesc*> find_target(std::string_view name);

// Looks a device up by id or product name, ignoring case, spaces, '-' and '_' ("RTX 4090",
// "rtx-4090" and "rtx4090" are the same). Errors: not_found, listing every known device.
Result<const DeviceDesc*> find_device(std::string_view name);

// Feature names as TargetInfo.required_features spells them: "tensor_core_fp16",
// "tensor_core_bf16", "tensor_core_int8", "tensor_core_fp8", "fp8", "int8_dot", "wgmma".
std::span<const std::string_view> known_feature_names();
// The names of the features `target` has, in known_feature_names() order.
std::vector<std::string_view> feature_names(const TargetDesc& target);
// False for a name that is not a known feature.
bool has_feature(const TargetDesc& target, std::string_view feature);

// Ok when `target` has every feature in `required` (an artifact's TargetInfo.required_features).
// Errors: target_mismatch naming the missing features and the target; invalid_argument for a
// feature name this build does not know (an artifact from a newer dsc).
Status check_required_features(const TargetDesc& target, std::span<const std::string> required);

}  // namespace dse::targets
