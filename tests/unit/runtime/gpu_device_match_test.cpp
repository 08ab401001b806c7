// Matching a GPU against an artifact's target: the architecture (NVIDIA compute capability, AMD
// gcnArchName) and the required features. No GPU needed: the device properties are written here
// as the drivers report them.
#include "dse/runtime/gpu_device_match.h"

#include <catch2/catch_test_macros.hpp>
#include <string>
#include <vector>

using dse::runtime::GpuDeviceProps;
using dse::runtime::match_gpu_device;

namespace {

GpuDeviceProps h100() {
  GpuDeviceProps d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.major = 9;
  d.minor = 0;
  return d;
}

// As hipGetDeviceProperties reports an MI250X: name, and gcnArchName with the target features.
GpuDeviceProps mi250x() {
  GpuDeviceProps d;
  d.backend = dse::targets::Backend::hip;
  d.name = "AMD Instinct MI250X";
  d.arch_name = "gfx90a:sramecc+:xnack-";
  d.major = 9;  // HIP's major.minor is not the architecture: gfx90a and gfx942 are both 9.x
  d.minor = 0;
  return d;
}

GpuDeviceProps amd(const std::string& name, const std::string& arch_name) {
  GpuDeviceProps d;
  d.backend = dse::targets::Backend::hip;
  d.name = name;
  d.arch_name = arch_name;
  return d;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a device's compute capability names its registry target", "[gpu_device]") {
  CHECK(dse::runtime::cuda_target_name(9, 0) == "sm_90");
  CHECK(dse::runtime::cuda_target_name(8, 7) == "sm_87");
  CHECK(dse::runtime::cuda_target_name(12, 0) == "sm_120");
}

TEST_CASE("an sm_90 artifact matches an H100", "[gpu_device]") {
  auto t = match_gpu_device(h100(), "sm_90", {});
  REQUIRE(t.ok());
  CHECK((*t)->name == "sm_90");
}

TEST_CASE("an artifact for another architecture is refused with both names", "[gpu_device]") {
  auto t = match_gpu_device(h100(), "sm_87", {});
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == dse::StatusCode::target_mismatch);
  const std::string& m = t.status().message();
  CHECK(contains(m, "sm_87"));
  CHECK(contains(m, "sm_90"));
  CHECK(contains(m, "H100"));
  CHECK(contains(m, "--target sm_90"));
}

TEST_CASE("a CPU or unknown target is refused on a GPU", "[gpu_device]") {
  auto cpu = match_gpu_device(h100(), "cpu", {});
  REQUIRE_FALSE(cpu.ok());
  CHECK(cpu.status().code() == dse::StatusCode::target_mismatch);
  auto unknown = match_gpu_device(h100(), "sm_999", {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(contains(unknown.status().message(), "sm_999"));
}

TEST_CASE("a required feature the target lacks is refused, a present one accepted", "[gpu_device]") {
  GpuDeviceProps ampere;
  ampere.name = "NVIDIA GeForce RTX 3060";
  ampere.major = 8;
  ampere.minor = 6;
  const std::vector<std::string> fp8 = {"fp8"};
  auto t = match_gpu_device(ampere, "sm_86", fp8);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == dse::StatusCode::target_mismatch);
  CHECK(contains(t.status().message(), "fp8"));
  CHECK(match_gpu_device(h100(), "sm_90", fp8).ok());
}

TEST_CASE("an AMD device's gcnArchName names its registry target without the target features", "[gpu_device]") {
  using dse::runtime::hip_target_name;
  CHECK(hip_target_name("gfx90a:sramecc+:xnack-") == "gfx90a");
  CHECK(hip_target_name("gfx942:sramecc+:xnack-") == "gfx942");
  CHECK(hip_target_name("gfx1030") == "gfx1030");
  CHECK(hip_target_name("gfx1100") == "gfx1100");
  CHECK(hip_target_name("") == "");
  CHECK(dse::runtime::device_target_name(mi250x()) == "gfx90a");
  CHECK(dse::runtime::device_target_name(h100()) == "sm_90");
}

TEST_CASE("AMD artifacts match the AMD devices of their architecture, whatever xnack and sramecc", "[gpu_device]") {
  auto t = match_gpu_device(mi250x(), "gfx90a", {});
  REQUIRE(t.ok());
  CHECK((*t)->name == "gfx90a");
  CHECK(match_gpu_device(amd("AMD Instinct MI210", "gfx90a:sramecc-:xnack+"), "gfx90a", {}).ok());
  CHECK(match_gpu_device(amd("AMD Radeon RX 6900 XT", "gfx1030"), "gfx1030", {}).ok());
  CHECK(match_gpu_device(amd("AMD Radeon RX 7900 XTX", "gfx1100"), "gfx1100", {}).ok());
  CHECK(match_gpu_device(amd("AMD Instinct MI300X", "gfx942:sramecc+:xnack-"), "gfx942", {}).ok());
}

TEST_CASE("an AMD artifact for another architecture is refused with both names", "[gpu_device]") {
  auto t = match_gpu_device(mi250x(), "gfx1030", {});
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == dse::StatusCode::target_mismatch);
  const std::string& m = t.status().message();
  CHECK(contains(m, "gfx1030"));
  CHECK(contains(m, "gfx90a:sramecc+:xnack-"));
  CHECK(contains(m, "MI250X"));
  CHECK(contains(m, "--target gfx90a"));
  // CDNA3 against CDNA2: same wave size and the same major version in HIP, still refused.
  auto mi300 = match_gpu_device(amd("AMD Instinct MI300X", "gfx942:sramecc+:xnack-"), "gfx90a", {});
  REQUIRE_FALSE(mi300.ok());
  CHECK(contains(mi300.status().message(), "gfx942"));
  CHECK(contains(mi300.status().message(), "gfx90a"));
}

TEST_CASE("artifacts of the other vendor are refused, naming both targets", "[gpu_device]") {
  auto on_amd = match_gpu_device(mi250x(), "sm_90", {});
  REQUIRE_FALSE(on_amd.ok());
  CHECK(on_amd.status().code() == dse::StatusCode::target_mismatch);
  CHECK(contains(on_amd.status().message(), "sm_90"));
  CHECK(contains(on_amd.status().message(), "AMD GPU"));
  CHECK(contains(on_amd.status().message(), "--target gfx90a"));
  auto on_nvidia = match_gpu_device(h100(), "gfx90a", {});
  REQUIRE_FALSE(on_nvidia.ok());
  CHECK(on_nvidia.status().code() == dse::StatusCode::target_mismatch);
  CHECK(contains(on_nvidia.status().message(), "gfx90a"));
  CHECK(contains(on_nvidia.status().message(), "CUDA GPU"));
  CHECK(contains(on_nvidia.status().message(), "--target sm_90"));
  CHECK_FALSE(match_gpu_device(mi250x(), "cpu", {}).ok());
}

TEST_CASE("an AMD GPU that dsc has no target for, or that reports no architecture, is refused", "[gpu_device]") {
  // RX 6700 XT: RDNA2 like gfx1030, but another processor; the kernels are not built for it.
  auto t = match_gpu_device(amd("AMD Radeon RX 6700 XT", "gfx1031"), "gfx1030", {});
  REQUIRE_FALSE(t.ok());
  CHECK(contains(t.status().message(), "gfx1031"));
  CHECK(contains(t.status().message(), "dsc has no target gfx1031"));
  CHECK_FALSE(contains(t.status().message(), "--target gfx1031"));
  auto unnamed = match_gpu_device(amd("AMD Radeon", ""), "gfx1030", {});
  REQUIRE_FALSE(unnamed.ok());
  CHECK(unnamed.status().code() == dse::StatusCode::target_mismatch);
  CHECK(contains(unnamed.status().message(), "no architecture name"));
}

TEST_CASE("AMD required features follow the target: fp8 on gfx942, not on gfx1100", "[gpu_device]") {
  const std::vector<std::string> fp8 = {"fp8"};
  auto rdna3 = match_gpu_device(amd("AMD Radeon RX 7900 XTX", "gfx1100"), "gfx1100", fp8);
  REQUIRE_FALSE(rdna3.ok());
  CHECK(rdna3.status().code() == dse::StatusCode::target_mismatch);
  CHECK(contains(rdna3.status().message(), "fp8"));
  CHECK(contains(rdna3.status().message(), "RX 7900 XTX"));
  CHECK(match_gpu_device(amd("AMD Instinct MI300X", "gfx942:sramecc+:xnack-"), "gfx942", fp8).ok());
}
