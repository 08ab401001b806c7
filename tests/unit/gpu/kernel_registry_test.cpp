// The GPU registry covers exactly the CPU registry's kernels (the contract of docs/KERNELS.md).
#include <catch2/catch_test_macros.hpp>
#include <set>
#include <string>

#include "dse/cpu/kernel_registry.h"
#include "dse/gpu/kernel_registry.h"

namespace dse::gpu {

TEST_CASE("every CPU kernel has a GPU kernel of the same name and no GPU kernel lacks a CPU twin", "[gpu][registry]") {
  std::set<std::string> cpu_names, gpu_names;
  for (const auto& k : cpu::cpu_kernels()) cpu_names.insert(std::string(k.name));
  for (const auto& k : gpu_kernels()) {
    gpu_names.insert(std::string(k.name));
    CHECK(k.launch != nullptr);
    CHECK(k.workspace_bytes != nullptr);
  }
  CHECK(cpu_names == gpu_names);
  CHECK(gpu_kernels().size() == gpu_names.size());  // no duplicate names
}

TEST_CASE("the GPU registry finds kernels by name and returns null for an unknown one", "[gpu][registry]") {
  REQUIRE(find_gpu_kernel("matmul_f32_w4") != nullptr);
  CHECK(find_gpu_kernel("matmul_f32_w4")->name == "matmul_f32_w4");
  CHECK(find_gpu_kernel("matmul_f32_w3") == nullptr);
}

TEST_CASE("a cleared GPU error record reads as ok and a filled one names the kernel and the position",
          "[gpu][registry]") {
  CHECK(gpu_error_status(GpuErrorRecord{}).ok());
  GpuErrorRecord r;
  r.code = int32_t(StatusCode::out_of_range);
  r.op = int32_t(GpuOp::kv_store);
  r.value = 4096;
  r.limit = 4096;
  const Status s = gpu_error_status(r);
  CHECK(s.code() == StatusCode::out_of_range);
  CHECK(s.message().find("kv_store: position 4096") != std::string::npos);
}

}  // namespace dse::gpu
