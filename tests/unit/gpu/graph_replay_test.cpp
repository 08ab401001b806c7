// The property the GPU launch convention exists for: a decode step captured once as a CUDA graph
// and replayed with new StepInfo values written to device memory gives the CPU's results.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <cmath>
#include <cstring>
#include <optional>
#include <cuda_runtime.h>

#include "dse/cpu/kernel_registry.h"
#include "dse/gpu/kernel_registry.h"
#include "gpu_test_support.h"

namespace dse::gpu::test {

TEST_CASE("a decode step captured once as a CUDA graph replays correctly for every new position",
          "[gpu][graph]") {
  if (!gpu_available()) SKIP("no GPU");
  // As the runtime captures decode (each kernel may start before the one it reads has finished,
  // on sm_90 and newer) and plainly: the attention must still see the rows kv_store wrote.
  const bool overlapped = GENERATE(false, true);
  INFO("programmatic dependent launch " << (overlapped ? "on" : "off"));
  const int64_t S = 600, hq = 4, hkv = 2, d = 64;
  const int64_t first_pos = 395, steps = 10;  // crosses a chunk boundary of the split plan
  std::mt19937 rng(42);
  Operand q = f32_tensor({1, hq * d}, rng), k = f32_tensor({1, hkv * d}, rng), v = f32_tensor({1, hkv * d}, rng);
  Operand kc = cache_tensor(DType::f16, {S, hkv * d}, rng), vc = cache_tensor(DType::f16, {S, hkv * d}, rng);
  std::vector<float> out_cpu(size_t(hq * d)), out_gpu(size_t(hq * d));
  const int64_t attn_ip[] = {hq, hkv, d, d};
  const float attn_fp[] = {float(1.0 / std::sqrt(double(d)))};

  // Device copies of every buffer; the graph captures these addresses once.
  void *dq, *dk, *dv, *dkc, *dvc, *dout, *ws;
  StepInfo* d_step;
  GpuErrorRecord* d_err;
  REQUIRE(cudaMalloc(&dq, q.bytes.size()) == cudaSuccess);
  REQUIRE(cudaMalloc(&dk, k.bytes.size()) == cudaSuccess);
  REQUIRE(cudaMalloc(&dv, v.bytes.size()) == cudaSuccess);
  REQUIRE(cudaMalloc(&dkc, kc.bytes.size()) == cudaSuccess);
  REQUIRE(cudaMalloc(&dvc, vc.bytes.size()) == cudaSuccess);
  REQUIRE(cudaMalloc(&dout, out_gpu.size() * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&d_step, sizeof(StepInfo)) == cudaSuccess);
  REQUIRE(cudaMalloc(&d_err, sizeof(GpuErrorRecord)) == cudaSuccess);
  REQUIRE(cudaMemcpy(dkc, kc.bytes.data(), kc.bytes.size(), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemcpy(dvc, vc.bytes.data(), vc.bytes.size(), cudaMemcpyHostToDevice) == cudaSuccess);
  REQUIRE(cudaMemset(d_err, 0, sizeof(GpuErrorRecord)) == cudaSuccess);

  const TensorView g_store_k[] = {view_2d(dk, DType::f32, 1, hkv * d), view_2d(dkc, DType::f16, S, hkv * d)};
  const TensorView g_store_v[] = {view_2d(dv, DType::f32, 1, hkv * d), view_2d(dvc, DType::f16, S, hkv * d)};
  const TensorView g_attn[] = {view_2d(dq, DType::f32, 1, hq * d), view_2d(dkc, DType::f16, S, hkv * d),
                               view_2d(dvc, DType::f16, S, hkv * d), view_2d(dout, DType::f32, 1, hq * d)};
  const GpuKernelInfo* store = find_gpu_kernel("kv_store");
  const GpuKernelInfo* attn = find_gpu_kernel("attention_f32");
  REQUIRE(store);
  REQUIRE(attn);
  const KernelCall attn_call = make_kernel_call(g_attn, 4, attn_ip, 4, attn_fp, 1);
  const uint64_t ws_bytes = attn->workspace_bytes(attn_call);
  REQUIRE(cudaMalloc(&ws, ws_bytes) == cudaSuccess);
  GpuStep gstep;
  gstep.d_step = d_step;
  gstep.d_error = d_err;
  GpuStep astep = gstep;
  astep.workspace = ws;
  astep.workspace_bytes = ws_bytes;

  cudaStream_t stream;
  REQUIRE(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking) == cudaSuccess);
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  std::optional<OverlappedLaunches> overlap;
  if (overlapped) overlap.emplace();
  REQUIRE(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal) == cudaSuccess);
  REQUIRE(store->launch(make_kernel_call(g_store_k, 2, nullptr, 0, nullptr, 0), gstep, stream).ok());
  REQUIRE(store->launch(make_kernel_call(g_store_v, 2, nullptr, 0, nullptr, 0), gstep, stream).ok());
  REQUIRE(attn->launch(attn_call, astep, stream).ok());
  REQUIRE(cudaStreamEndCapture(stream, &graph) == cudaSuccess);
  REQUIRE(cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess);
  overlap.reset();

  const cpu::CpuKernelInfo* cstore = cpu::find_cpu_kernel("kv_store");
  const cpu::CpuKernelInfo* cattn = cpu::find_cpu_kernel("attention_f32");
  REQUIRE(cstore);
  REQUIRE(cattn);
  const TensorView c_store_k[] = {view_2d(k.bytes.data(), DType::f32, 1, hkv * d),
                                  view_2d(kc.bytes.data(), DType::f16, S, hkv * d)};
  const TensorView c_store_v[] = {view_2d(v.bytes.data(), DType::f32, 1, hkv * d),
                                  view_2d(vc.bytes.data(), DType::f16, S, hkv * d)};
  const TensorView c_attn[] = {view_2d(q.bytes.data(), DType::f32, 1, hq * d),
                               view_2d(kc.bytes.data(), DType::f16, S, hkv * d),
                               view_2d(vc.bytes.data(), DType::f16, S, hkv * d),
                               view_2d(out_cpu.data(), DType::f32, 1, hq * d)};

  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int64_t i = 0; i < steps; ++i) {
    const StepInfo step{1, first_pos + i};
    for (float& x : q.as<float>()) x = dist(rng);
    for (float& x : k.as<float>()) x = dist(rng);
    for (float& x : v.as<float>()) x = dist(rng);
    REQUIRE(cstore->fn(make_kernel_call(c_store_k, 2, nullptr, 0, nullptr, 0), step, nullptr).ok());
    REQUIRE(cstore->fn(make_kernel_call(c_store_v, 2, nullptr, 0, nullptr, 0), step, nullptr).ok());
    REQUIRE(cattn->fn(make_kernel_call(c_attn, 4, attn_ip, 4, attn_fp, 1), step, nullptr).ok());

    // What the executor does per token: new inputs and a new step in device memory, then replay.
    REQUIRE(cudaMemcpyAsync(dq, q.bytes.data(), q.bytes.size(), cudaMemcpyHostToDevice, stream) == cudaSuccess);
    REQUIRE(cudaMemcpyAsync(dk, k.bytes.data(), k.bytes.size(), cudaMemcpyHostToDevice, stream) == cudaSuccess);
    REQUIRE(cudaMemcpyAsync(dv, v.bytes.data(), v.bytes.size(), cudaMemcpyHostToDevice, stream) == cudaSuccess);
    REQUIRE(cudaMemcpyAsync(d_step, &step, sizeof(step), cudaMemcpyHostToDevice, stream) == cudaSuccess);
    REQUIRE(cudaGraphLaunch(exec, stream) == cudaSuccess);
    REQUIRE(cudaMemcpyAsync(out_gpu.data(), dout, out_gpu.size() * 4, cudaMemcpyDeviceToHost, stream) == cudaSuccess);
    REQUIRE(cudaStreamSynchronize(stream) == cudaSuccess);

    INFO("position " << step.start_pos);
    for (size_t j = 0; j < out_cpu.size(); ++j) {
      INFO("element " << j);
      REQUIRE(std::fabs(out_gpu[j] - out_cpu[j]) <= 1e-4f * (1.0f + std::fabs(out_cpu[j])));
    }
  }
  GpuErrorRecord rec;
  REQUIRE(cudaMemcpy(&rec, d_err, sizeof(rec), cudaMemcpyDeviceToHost) == cudaSuccess);
  CHECK(rec.code == 0);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
  for (void* p : {dq, dk, dv, dkc, dvc, dout, ws}) cudaFree(p);
  cudaFree(d_step);
  cudaFree(d_err);
}

}  // namespace dse::gpu::test
