// The target and device tables (data, one row per entry) and the lookups over them.
// Every number has its source in the row; docs/TARGETS.md shows the same table for people.
#include "dse/targets/target_registry.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace dse::targets {
namespace {

constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// Vendors' "GB" of DRAM are binary (the chips are 2^n sized): "8 GB" is 8 GiB of memory.
constexpr uint64_t gb(uint64_t n) { return n * kGiB; }

// Jetson: the GPU shares DRAM with the CPU. Headless JetPack assumed.
constexpr std::string_view kJetsonUsable =
    "shared with the CPU and the OS; assumes headless JetPack (no desktop): reserves max(2 GiB, 8%) "
    "for firmware carve-outs (the kernel sees about 0.6 GiB less than installed), the kernel and "
    "system services, the CUDA context and the runtime's own host memory; an estimate, and a "
    "desktop session costs about 1 GiB more";
constexpr uint64_t jetson_usable(uint64_t total) { return total - std::max(2 * kGiB, total * 2 / 25); }

// Discrete GPUs: dedicated memory, minus what the driver keeps and the context takes.
constexpr std::string_view kDiscreteUsable =
    "dedicated memory; reserves max(512 MiB, 5%) for driver and ECC reservations (an 80 GB H100 "
    "reports 79.6 GiB), the CUDA/HIP context (0.3-0.5 GiB) and allocator slack; a card that also "
    "drives a display loses that framebuffer too";
constexpr uint64_t discrete_usable(uint64_t total) { return total - std::max(512 * kMiB, total / 20); }

// GDDR6 data-centre cards run with ECC on, which takes 1/16 of the memory before the rule above.
constexpr std::string_view kGddrEccUsable =
    "dedicated GDDR6 with ECC on by default, which keeps 1/16 (nvidia-smi shows 23034 MiB of 24 GiB); "
    "of that, reserves max(512 MiB, 5%) for the CUDA context and allocator slack";
constexpr uint64_t gddr_ecc_usable(uint64_t total) { return discrete_usable(total - total / 16); }

// Shared memory per block with cudaFuncAttributeMaxDynamicSharedMemorySize, per the CUDA C++
// Programming Guide table "Technical Specifications per Compute Capability".
constexpr uint64_t kSmem163KB = 163 * kKiB;  // 8.0, 8.7
constexpr uint64_t kSmem99KB = 99 * kKiB;    // 8.6, 8.9, 12.0
constexpr uint64_t kSmem227KB = 227 * kKiB;  // 9.0
constexpr uint64_t kLds64KiB = 64 * kKiB;    // AMD: LDS per workgroup, CDNA2/3 and RDNA2/3

constexpr TargetFeatures kAmpere{.tensor_core_fp16 = true, .tensor_core_bf16 = true, .tensor_core_int8 = true,
                                 .int8_dot = true};
constexpr TargetFeatures kAdaBlackwell{.tensor_core_fp16 = true, .tensor_core_bf16 = true, .tensor_core_int8 = true,
                                       .tensor_core_fp8 = true, .fp8 = true, .int8_dot = true};
constexpr TargetFeatures kHopper{.tensor_core_fp16 = true, .tensor_core_bf16 = true, .tensor_core_int8 = true,
                                 .tensor_core_fp8 = true, .fp8 = true, .int8_dot = true, .wgmma = true};

constexpr std::array kTargets = {
    TargetDesc{
        .name = "cpu", .backend = Backend::cpu, .compile_arch = "",
        .description = "portable CPU reference backend (x86-64, aarch64)",
        .features = {},  // SIMD extensions (AVX2, NEON dot product) are detected on the host at run time
        .warp_size = 1, .max_shared_memory_per_block_bytes = 0,
        .source = "no SIMT and no shared memory by definition"},
    TargetDesc{
        .name = "sm_80", .backend = Backend::cuda, .compile_arch = "sm_80",
        .description = "NVIDIA Ampere GA100 (A100)",
        .features = kAmpere, .warp_size = 32, .max_shared_memory_per_block_bytes = kSmem163KB,
        .source = "CUDA C++ Programming Guide, compute capability 8.0 (163 KB shared memory per block); "
                  "NVIDIA A100 Tensor Core GPU Architecture whitepaper (FP16/BF16/INT8 tensor cores)"},
    TargetDesc{
        .name = "sm_86", .backend = Backend::cuda, .compile_arch = "sm_86",
        .description = "NVIDIA Ampere GA10x (RTX 30 series, A10, A40)",
        .features = kAmpere, .warp_size = 32, .max_shared_memory_per_block_bytes = kSmem99KB,
        .source = "CUDA C++ Programming Guide, compute capability 8.6 (99 KB per block); "
                  "NVIDIA Ampere GA102 GPU Architecture whitepaper"},
    TargetDesc{
        .name = "sm_87", .backend = Backend::cuda, .compile_arch = "sm_87",
        .description = "NVIDIA Ampere in Jetson Orin (Nano, NX, AGX)",
        .features = kAmpere, .warp_size = 32, .max_shared_memory_per_block_bytes = kSmem163KB,
        .source = "CUDA C++ Programming Guide, compute capability 8.7 (163 KB per block); "
                  "NVIDIA Jetson AGX Orin Series Technical Brief (Ampere GPU, third-generation tensor cores)"},
    TargetDesc{
        .name = "sm_89", .backend = Backend::cuda, .compile_arch = "sm_89",
        .description = "NVIDIA Ada Lovelace (RTX 40 series, L4, L40S)",
        .features = kAdaBlackwell, .warp_size = 32, .max_shared_memory_per_block_bytes = kSmem99KB,
        .source = "CUDA C++ Programming Guide, compute capability 8.9 (99 KB per block); "
                  "NVIDIA Ada GPU Architecture whitepaper (fourth-generation tensor cores with FP8)"},
    TargetDesc{
        .name = "sm_90", .backend = Backend::cuda, .compile_arch = "sm_90a",
        .description = "NVIDIA Hopper (H100, H200)",
        .features = kHopper, .warp_size = 32, .max_shared_memory_per_block_bytes = kSmem227KB,
        .source = "CUDA C++ Programming Guide, compute capability 9.0 (227 KB per block); NVIDIA H100 Tensor "
                  "Core GPU Architecture whitepaper (FP8); PTX ISA: wgmma needs the sm_90a target"},
    TargetDesc{
        .name = "sm_120", .backend = Backend::cuda, .compile_arch = "sm_120",
        .description = "NVIDIA Blackwell consumer (RTX 50 series, RTX PRO 6000)",
        .features = kAdaBlackwell, .warp_size = 32, .max_shared_memory_per_block_bytes = kSmem99KB,
        .source = "CUDA C++ Programming Guide, compute capability 12.0 (99 KB per block); NVIDIA RTX "
                  "Blackwell GPU Architecture whitepaper (fifth-generation tensor cores, FP8/FP6/FP4; "
                  "no wgmma, which is sm_90a only)"},
    TargetDesc{
        .name = "gfx90a", .backend = Backend::hip, .compile_arch = "gfx90a",
        .description = "AMD CDNA2 (Instinct MI210, MI250X)",
        .features = {.tensor_core_fp16 = true, .tensor_core_bf16 = true, .tensor_core_int8 = true,
                     .int8_dot = true},
        .warp_size = 64, .max_shared_memory_per_block_bytes = kLds64KiB,
        .source = "AMD Instinct MI200 (CDNA2) ISA reference guide: MFMA f16/bf16/i8, no fp8, "
                  "v_dot4_i32_i8, wave64, 64 KiB LDS per workgroup; instructions checked with llvm-mc 22"},
    TargetDesc{
        .name = "gfx942", .backend = Backend::hip, .compile_arch = "gfx942",
        .description = "AMD CDNA3 (Instinct MI300X, MI300A, MI325X)",
        .features = {.tensor_core_fp16 = true, .tensor_core_bf16 = true, .tensor_core_int8 = true,
                     .tensor_core_fp8 = true, .fp8 = true, .int8_dot = true},
        .warp_size = 64, .max_shared_memory_per_block_bytes = kLds64KiB,
        .source = "AMD Instinct MI300 (CDNA3) ISA reference guide: MFMA f16/bf16/i8/fp8 (FNUZ encodings, "
                  "not OCP e4m3fn), v_dot4_i32_i8, wave64, 64 KiB LDS per workgroup; checked with llvm-mc 22"},
    TargetDesc{
        .name = "gfx1030", .backend = Backend::hip, .compile_arch = "gfx1030",
        .description = "AMD RDNA2 (Radeon RX 6800/6900, PRO W6800)",
        .features = {.int8_dot = true},  // no matrix instructions on RDNA2
        .warp_size = 32, .max_shared_memory_per_block_bytes = kLds64KiB,
        .source = "AMD RDNA2 ISA reference guide: no WMMA/MFMA, v_dot4_i32_i8, wave32 (the HIP default "
                  "on RDNA), 64 KiB LDS per workgroup; checked with llvm-mc 22"},
    TargetDesc{
        .name = "gfx1100", .backend = Backend::hip, .compile_arch = "gfx1100",
        .description = "AMD RDNA3 (Radeon RX 7900 XT/XTX, PRO W7900)",
        .features = {.tensor_core_fp16 = true, .tensor_core_bf16 = true, .tensor_core_int8 = true,
                     .int8_dot = true},
        .warp_size = 32, .max_shared_memory_per_block_bytes = kLds64KiB,
        .source = "AMD RDNA3 ISA reference guide: WMMA f16/bf16/iu8 (no fp8 before RDNA4), "
                  "v_dot4_i32_iu8, wave32, 64 KiB LDS per workgroup; checked with llvm-mc 22"},
};

constexpr std::array kDevices = {
    DeviceDesc{
        .id = "orin-nano-8gb", .name = "Jetson Orin Nano 8GB", .target = "sm_87",
        .total_memory_bytes = gb(8), .usable_memory_bytes = jetson_usable(gb(8)),
        .memory_bandwidth_gb_per_s = 68, .integrated = true,
        .source = "NVIDIA Jetson Orin Nano Series Data Sheet: 8 GB 128-bit LPDDR5, 68 GB/s "
                  "(102 GB/s in the MAXN SUPER mode of JetPack 6.2)",
        .usable_memory_basis = kJetsonUsable},
    DeviceDesc{
        .id = "orin-nx-16gb", .name = "Jetson Orin NX 16GB", .target = "sm_87",
        .total_memory_bytes = gb(16), .usable_memory_bytes = jetson_usable(gb(16)),
        .memory_bandwidth_gb_per_s = 102.4, .integrated = true,
        .source = "NVIDIA Jetson Orin NX Series Data Sheet: 16 GB 128-bit LPDDR5, 102.4 GB/s",
        .usable_memory_basis = kJetsonUsable},
    DeviceDesc{
        .id = "agx-orin-64gb", .name = "Jetson AGX Orin 64GB", .target = "sm_87",
        .total_memory_bytes = gb(64), .usable_memory_bytes = jetson_usable(gb(64)),
        .memory_bandwidth_gb_per_s = 204.8, .integrated = true,
        .source = "NVIDIA Jetson AGX Orin Series Data Sheet: 64 GB 256-bit LPDDR5, 204.8 GB/s",
        .usable_memory_basis = kJetsonUsable},
    DeviceDesc{
        .id = "rtx-3060-12gb", .name = "GeForce RTX 3060 12GB", .target = "sm_86",
        .total_memory_bytes = gb(12), .usable_memory_bytes = discrete_usable(gb(12)),
        .memory_bandwidth_gb_per_s = 360, .integrated = false,
        .source = "NVIDIA GeForce RTX 3060 specifications: 12 GB GDDR6, 192-bit at 15 Gbps = 360 GB/s",
        .usable_memory_basis = kDiscreteUsable},
    DeviceDesc{
        .id = "rtx-4090", .name = "GeForce RTX 4090", .target = "sm_89",
        .total_memory_bytes = gb(24), .usable_memory_bytes = discrete_usable(gb(24)),
        .memory_bandwidth_gb_per_s = 1008, .integrated = false,
        .source = "NVIDIA GeForce RTX 4090 specifications and Ada GPU Architecture whitepaper: 24 GB GDDR6X, "
                  "384-bit at 21 Gbps = 1008 GB/s",
        .usable_memory_basis = kDiscreteUsable},
    DeviceDesc{
        .id = "rtx-5090", .name = "GeForce RTX 5090", .target = "sm_120",
        .total_memory_bytes = gb(32), .usable_memory_bytes = discrete_usable(gb(32)),
        .memory_bandwidth_gb_per_s = 1792, .integrated = false,
        .source = "NVIDIA GeForce RTX 5090 specifications: 32 GB GDDR7, 512-bit at 28 Gbps = 1792 GB/s",
        .usable_memory_basis = kDiscreteUsable},
    DeviceDesc{
        .id = "l4", .name = "NVIDIA L4", .target = "sm_89",
        .total_memory_bytes = gb(24), .usable_memory_bytes = gddr_ecc_usable(gb(24)),
        .memory_bandwidth_gb_per_s = 300, .integrated = false,
        .source = "NVIDIA L4 Tensor Core GPU datasheet: 24 GB GDDR6, 300 GB/s",
        .usable_memory_basis = kGddrEccUsable},
    DeviceDesc{
        .id = "a100-80gb", .name = "A100 SXM 80GB", .target = "sm_80",
        .total_memory_bytes = gb(80), .usable_memory_bytes = discrete_usable(gb(80)),
        .memory_bandwidth_gb_per_s = 2039, .integrated = false,
        .source = "NVIDIA A100 Tensor Core GPU datasheet: 80 GB HBM2e, 2039 GB/s (SXM; the PCIe card: 1935 GB/s)",
        .usable_memory_basis = kDiscreteUsable},
    DeviceDesc{
        .id = "h100-sxm-80gb", .name = "H100 SXM 80GB", .target = "sm_90",
        .total_memory_bytes = gb(80), .usable_memory_bytes = discrete_usable(gb(80)),
        .memory_bandwidth_gb_per_s = 3350, .integrated = false,
        .source = "NVIDIA H100 Tensor Core GPU datasheet: H100 SXM, 80 GB HBM3, 3.35 TB/s",
        .usable_memory_basis = kDiscreteUsable},
    DeviceDesc{
        .id = "h200", .name = "H200 141GB", .target = "sm_90",
        .total_memory_bytes = gb(141), .usable_memory_bytes = discrete_usable(gb(141)),
        .memory_bandwidth_gb_per_s = 4800, .integrated = false,
        .source = "NVIDIA H200 Tensor Core GPU datasheet: 141 GB HBM3e, 4.8 TB/s (SXM and NVL)",
        .usable_memory_basis = kDiscreteUsable},
    DeviceDesc{
        .id = "rx-7900-xtx", .name = "Radeon RX 7900 XTX", .target = "gfx1100",
        .total_memory_bytes = gb(24), .usable_memory_bytes = discrete_usable(gb(24)),
        .memory_bandwidth_gb_per_s = 960, .integrated = false,
        .source = "AMD Radeon RX 7900 XTX specifications: 24 GB GDDR6, 384-bit at 20 Gbps = 960 GB/s",
        .usable_memory_basis = kDiscreteUsable},
    DeviceDesc{
        .id = "mi300x", .name = "Instinct MI300X", .target = "gfx942",
        .total_memory_bytes = gb(192), .usable_memory_bytes = discrete_usable(gb(192)),
        .memory_bandwidth_gb_per_s = 5300, .integrated = false,
        .source = "AMD Instinct MI300X data sheet: 192 GB HBM3, 5.3 TB/s",
        .usable_memory_basis = kDiscreteUsable},
};

constexpr std::array<std::string_view, 7> kFeatureNames = {
    "tensor_core_fp16", "tensor_core_bf16", "tensor_core_int8", "tensor_core_fp8", "fp8", "int8_dot", "wgmma"};

// The feature flag of `features` called kFeatureNames[index].
bool feature_at(const TargetFeatures& f, size_t index) {
  const bool flags[] = {f.tensor_core_fp16, f.tensor_core_bf16, f.tensor_core_int8, f.tensor_core_fp8,
                        f.fp8, f.int8_dot, f.wgmma};
  static_assert(std::size(flags) == kFeatureNames.size());
  return flags[index];
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Lowercase letters and digits only: "GeForce RTX-4090" -> "geforcertx4090".
std::string device_key(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::string_view backend_name(Backend backend) {
  switch (backend) {
    case Backend::cpu: return "cpu";
    case Backend::cuda: return "cuda";
    case Backend::hip: return "hip";
  }
  return "unknown";
}

std::span<const TargetDesc> all_targets() { return kTargets; }
std::span<const DeviceDesc> all_devices() { return kDevices; }

Result<const TargetDesc*> find_target(std::string_view name) {
  const std::string wanted = lower(name);
  for (const TargetDesc& t : kTargets) {
    if (t.name == wanted) return &t;
  }
  std::string known;
  for (const TargetDesc& t : kTargets) known += (known.empty() ? "" : ", ") + std::string(t.name);
  return Status(StatusCode::not_found,
                "unknown target '" + std::string(name) + "'; known targets: " + known +
                    " (an unlisted GPU needs its target added to targets/src/target_registry.cpp)");
}

Result<const DeviceDesc*> find_device(std::string_view name) {
  const std::string wanted = device_key(name);
  if (!wanted.empty()) {
    for (const DeviceDesc& d : kDevices) {
      if (device_key(d.id) == wanted || device_key(d.name) == wanted) return &d;
    }
  }
  std::string known;
  for (const DeviceDesc& d : kDevices) {
    known += (known.empty() ? "" : ", ") + std::string(d.id) + " (" + std::string(d.name) + ")";
  }
  return Status(StatusCode::not_found,
                "unknown device '" + std::string(name) + "'; known devices: " + known +
                    "; for another GPU pass its target (e.g. --target sm_89) instead of a device");
}

std::span<const std::string_view> known_feature_names() { return kFeatureNames; }

std::vector<std::string_view> feature_names(const TargetDesc& target) {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < kFeatureNames.size(); ++i) {
    if (feature_at(target.features, i)) names.push_back(kFeatureNames[i]);
  }
  return names;
}

bool has_feature(const TargetDesc& target, std::string_view feature) {
  for (size_t i = 0; i < kFeatureNames.size(); ++i) {
    if (kFeatureNames[i] == feature) return feature_at(target.features, i);
  }
  return false;
}

Status check_required_features(const TargetDesc& target, std::span<const std::string> required) {
  std::string missing;
  for (const std::string& feature : required) {
    if (std::find(kFeatureNames.begin(), kFeatureNames.end(), feature) == kFeatureNames.end()) {
      return Status(StatusCode::invalid_argument,
                    "the artifact requires feature '" + feature +
                        "', which this runtime does not know; upgrade the runtime");
    }
    if (!has_feature(target, feature)) missing += (missing.empty() ? "" : ", ") + feature;
  }
  if (!missing.empty()) {
    return Status(StatusCode::target_mismatch,
                  "target " + std::string(target.name) + " lacks the features the artifact was compiled for: " +
                      missing + "; recompile the model with --target " + std::string(target.name));
  }
  return Status::Ok();
}

}  // namespace dse::targets
