// Matching a GPU against an artifact's target: the architecture and the required features.
#include "dse/runtime/gpu_device_match.h"

#include <catch2/catch_test_macros.hpp>
#include <string>
#include <vector>

using dse::runtime::GpuDeviceProps;
using dse::runtime::match_cuda_device;

namespace {

GpuDeviceProps h100() {
  GpuDeviceProps d;
  d.name = "NVIDIA H100 80GB HBM3";
  d.major = 9;
  d.minor = 0;
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
  auto t = match_cuda_device(h100(), "sm_90", {});
  REQUIRE(t.ok());
  CHECK((*t)->name == "sm_90");
}

TEST_CASE("an artifact for another architecture is refused with both names", "[gpu_device]") {
  auto t = match_cuda_device(h100(), "sm_87", {});
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == dse::StatusCode::target_mismatch);
  const std::string& m = t.status().message();
  CHECK(contains(m, "sm_87"));
  CHECK(contains(m, "sm_90"));
  CHECK(contains(m, "H100"));
  CHECK(contains(m, "--target sm_90"));
}

TEST_CASE("a CPU or unknown target is refused on a GPU", "[gpu_device]") {
  auto cpu = match_cuda_device(h100(), "cpu", {});
  REQUIRE_FALSE(cpu.ok());
  CHECK(cpu.status().code() == dse::StatusCode::target_mismatch);
  auto unknown = match_cuda_device(h100(), "sm_999", {});
  REQUIRE_FALSE(unknown.ok());
  CHECK(contains(unknown.status().message(), "sm_999"));
}

TEST_CASE("a required feature the target lacks is refused, a present one accepted", "[gpu_device]") {
  GpuDeviceProps ampere;
  ampere.name = "NVIDIA GeForce RTX 3060";
  ampere.major = 8;
  ampere.minor = 6;
  const std::vector<std::string> fp8 = {"fp8"};
  auto t = match_cuda_device(ampere, "sm_86", fp8);
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == dse::StatusCode::target_mismatch);
  CHECK(contains(t.status().message(), "fp8"));
  CHECK(match_cuda_device(h100(), "sm_90", fp8).ok());
}
