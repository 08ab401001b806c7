// The target and device tables: lookups, error messages and the invariants the data must keep.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <set>
#include <string>

#include "dse/targets/target_registry.h"

using namespace dse::targets;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("find_target returns the described target") {
  auto t = find_target("sm_90");
  REQUIRE(t.ok());
  CHECK((*t)->backend == Backend::cuda);
  CHECK((*t)->compile_arch == "sm_90a");
  CHECK((*t)->features.wgmma);
  CHECK((*t)->warp_size == 32);
  CHECK((*t)->max_shared_memory_per_block_bytes == 227 * 1024);
}

TEST_CASE("target names are matched without regard to case") {
  auto t = find_target("GFX942");
  REQUIRE(t.ok());
  CHECK((*t)->name == "gfx942");
  CHECK((*t)->warp_size == 64);
}

TEST_CASE("an unknown target is an error that lists the known targets") {
  auto t = find_target("sm_75");
  REQUIRE_FALSE(t.ok());
  CHECK(t.status().code() == dse::StatusCode::not_found);
  CHECK_THAT(t.status().message(), ContainsSubstring("unknown target 'sm_75'"));
  for (const TargetDesc& known : all_targets()) {
    CHECK_THAT(t.status().message(), ContainsSubstring(std::string(known.name)));
  }
}

TEST_CASE("devices are found by id or product name ignoring case, spaces and dashes") {
  for (const char* name : {"orin-nano-8gb", "Jetson Orin Nano 8GB", "JETSON_ORIN_NANO_8GB", "OrinNano8GB"}) {
    auto d = find_device(name);
    INFO(name);
    REQUIRE(d.ok());
    CHECK((*d)->id == "orin-nano-8gb");
  }
  auto xtx = find_device("RX 7900 XTX");
  REQUIRE(xtx.ok());
  CHECK((*xtx)->target == "gfx1100");
}

TEST_CASE("an unknown device is an error that lists the known devices") {
  auto d = find_device("RTX 2080");
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == dse::StatusCode::not_found);
  CHECK_THAT(d.status().message(), ContainsSubstring("unknown device 'RTX 2080'"));
  for (const DeviceDesc& known : all_devices()) {
    CHECK_THAT(d.status().message(), ContainsSubstring(std::string(known.id)));
  }
  CHECK_FALSE(find_device("").ok());
}

TEST_CASE("the registry holds every target and device the product supports") {
  for (const char* name : {"cpu", "sm_80", "sm_86", "sm_87", "sm_89", "sm_90", "sm_120", "gfx90a", "gfx1030",
                           "gfx1100", "gfx942"}) {
    INFO(name);
    CHECK(find_target(name).ok());
  }
  for (const char* id : {"orin-nano-8gb", "orin-nx-16gb", "agx-orin-64gb", "rtx-3060-12gb", "rtx-4090", "rtx-5090",
                         "l4", "a100-80gb", "h100-sxm-80gb", "h200", "rx-7900-xtx", "mi300x"}) {
    INFO(id);
    CHECK(find_device(id).ok());
  }
}

TEST_CASE("every device's usable memory is positive and at most its total") {
  for (const DeviceDesc& d : all_devices()) {
    INFO(d.id);
    CHECK(d.usable_memory_bytes > 0);
    CHECK(d.usable_memory_bytes <= d.total_memory_bytes);
    CHECK(d.memory_bandwidth_gb_per_s > 0);
    CHECK_FALSE(d.source.empty());
    CHECK_FALSE(d.usable_memory_basis.empty());
  }
}

TEST_CASE("every device's arch is a known target with a GPU backend") {
  for (const DeviceDesc& d : all_devices()) {
    INFO(d.id);
    auto t = find_target(d.target);
    REQUIRE(t.ok());
    CHECK((*t)->backend != Backend::cpu);
  }
}

TEST_CASE("only Jetson devices are integrated, and they are sm_87") {
  for (const DeviceDesc& d : all_devices()) {
    INFO(d.id);
    CHECK(d.integrated == (d.target == "sm_87"));
  }
}

TEST_CASE("fp8 is only on sm_89, sm_90, sm_120 and gfx942") {
  const std::set<std::string> fp8_targets = {"sm_89", "sm_90", "sm_120", "gfx942"};
  for (const TargetDesc& t : all_targets()) {
    INFO(t.name);
    CHECK(t.features.fp8 == (fp8_targets.count(std::string(t.name)) == 1));
    // An fp8 tensor core without fp8 support would be a contradiction in the table.
    if (t.features.tensor_core_fp8) CHECK(t.features.fp8);
  }
}

TEST_CASE("wgmma is only on sm_90, which is compiled as sm_90a") {
  for (const TargetDesc& t : all_targets()) {
    INFO(t.name);
    CHECK(t.features.wgmma == (t.name == "sm_90"));
    if (t.features.wgmma) CHECK(t.compile_arch == "sm_90a");
  }
}

TEST_CASE("wave size is 64 on CDNA and 32 on RDNA and NVIDIA") {
  for (const TargetDesc& t : all_targets()) {
    INFO(t.name);
    if (t.backend == Backend::cpu) continue;
    const bool cdna = t.name == "gfx90a" || t.name == "gfx942";
    CHECK(t.warp_size == (cdna ? 64u : 32u));
    CHECK(t.max_shared_memory_per_block_bytes >= 64 * 1024);
  }
}

TEST_CASE("target names, device ids and device names are unique") {
  std::set<std::string_view> targets, ids, names;
  for (const TargetDesc& t : all_targets()) CHECK(targets.insert(t.name).second);
  for (const DeviceDesc& d : all_devices()) {
    CHECK(ids.insert(d.id).second);
    CHECK(names.insert(d.name).second);
  }
}

TEST_CASE("feature names round trip through has_feature") {
  auto h100 = find_target("sm_90");
  REQUIRE(h100.ok());
  const auto names = feature_names(**h100);
  CHECK(names.size() == known_feature_names().size());  // Hopper has every feature
  for (std::string_view n : names) CHECK(has_feature(**h100, n));
  auto rdna2 = find_target("gfx1030");
  REQUIRE(rdna2.ok());
  CHECK(feature_names(**rdna2) == std::vector<std::string_view>{"int8_dot"});
  CHECK_FALSE(has_feature(**rdna2, "no_such_feature"));
}

TEST_CASE("an artifact needing fp8 is refused on a target without it") {
  auto orin = find_target("sm_87");
  REQUIRE(orin.ok());
  const std::vector<std::string> needs = {"tensor_core_fp16", "fp8", "wgmma"};
  const dse::Status s = check_required_features(**orin, needs);
  CHECK(s.code() == dse::StatusCode::target_mismatch);
  CHECK_THAT(s.message(), ContainsSubstring("sm_87 lacks") && ContainsSubstring("fp8, wgmma"));
  auto hopper = find_target("sm_90");
  REQUIRE(hopper.ok());
  CHECK(check_required_features(**hopper, needs).ok());
  const std::vector<std::string> future = {"fp4"};
  CHECK(check_required_features(**hopper, future).code() == dse::StatusCode::invalid_argument);
}

TEST_CASE("Jetson usable memory leaves room for the OS") {
  auto nano = find_device("orin-nano-8gb");
  REQUIRE(nano.ok());
  CHECK((*nano)->total_memory_bytes == (uint64_t{8} << 30));
  CHECK((*nano)->usable_memory_bytes == (uint64_t{6} << 30));
  CHECK((*nano)->memory_bandwidth_gb_per_s == 68);
}
