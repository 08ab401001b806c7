// The decode and prefill fusion passes (dse/gpu/fusion.h): which calls they merge (host only, no
// GPU needed) and that a fused program leaves what the unfused one leaves in every buffer (GPU).
#include "dse/gpu/fusion.h"

#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cuda_runtime.h>
#include <string>
#include <utility>

#include "dse/cpu/weight_format.h"
#include "gpu_test_support.h"

namespace dse::gpu::test {
namespace {

using cpu::WeightFormat;

const FusionOptions kAll{true, true, true};  // every fusion, also those off by default

TensorView vector_at(void* data, int64_t n) {
  TensorView v = view_2d(data, DType::f32, n, 1);
  v.rank = 1;
  v.shape[1] = 0;
  return v;
}

// A program under construction as the runtime holds one (parallel lists of calls, launchers and
// names), on buffers taken from an arena at 256-byte aligned offsets.
struct ProgramBuilder {
  std::vector<TensorView> views;  // reserved: KernelCall::operands points into it
  std::vector<KernelCall> calls;
  std::vector<const GpuKernelInfo*> kernels;
  std::vector<std::string_view> names;
  uint8_t* base;
  uint64_t bytes = 0;  // of the arena taken so far

  ProgramBuilder(uint8_t* arena, size_t max_views) : base(arena) { views.reserve(max_views); }

  uint8_t* take(uint64_t n) {
    uint8_t* p = base + bytes;
    bytes += (n + 255) / 256 * 256;
    return p;
  }

  // `ip` and `fp` are members of the program: the call points at them.
  void add(const std::string& name, const std::vector<TensorView>& ops, const std::vector<int64_t>& ip,
           const std::vector<float>* fp = nullptr) {
    const TensorView* operands = views.data() + views.size();
    views.insert(views.end(), ops.begin(), ops.end());
    calls.push_back(make_kernel_call(operands, ops.size(), ip.data(), ip.size(), fp ? fp->data() : nullptr,
                                     fp ? fp->size() : 0));
    kernels.push_back(find_gpu_kernel(name));
    names.push_back(kernels.back()->name);  // static storage, as the runtime's names are
  }

  GpuCallList list() { return {&calls, &kernels, &names}; }
};

// A program of the shape a Llama layer's decode step has around one norm:
//   rms_norm(R -> Y); matmul W1 (Y -> A1); matmul W1b + bias (Y -> A2); matmul W2 (A1 -> B);
//   add(B, R -> R or R2)
// on addresses from `base` (256-byte aligned offsets); `in_place_norm` makes Y the same buffer as
// R, `new_residual` makes the add write a new buffer R2 (as dsc's plans mostly do).
struct Program : ProgramBuilder {
  std::vector<int64_t> ip_none{}, ip_no_bias{0}, ip_bias{1};
  std::vector<float> fp_norm{1e-5f};

  Program(uint8_t* base, WeightFormat f, int64_t t, int64_t k, int64_t n1, int32_t group, bool in_place_norm,
          bool new_residual = false)
      : ProgramBuilder(base, 64) {
    const DType wd = cpu::weight_dtype(f);
    uint8_t* r = take(uint64_t(t * k * 4));
    uint8_t* g = take(uint64_t(k * 4));
    uint8_t* y = in_place_norm ? r : take(uint64_t(t * k * 4));
    auto weight = [&](int64_t rows, int64_t cols, std::vector<TensorView>& ops) {
      ops.push_back(view_2d(take(uint64_t(cpu::dtype_bytes(wd, rows * cols))), wd, rows, cols, group));
      if (f == WeightFormat::w4) ops.push_back(view_2d(take(uint64_t(rows * cols)), DType::f16, rows, cols / group));
      else if (cpu::has_scale_slot(f)) ops.push_back(vector_at(take(uint64_t(rows * 4)), rows));
    };
    uint8_t* a1 = take(uint64_t(t * n1 * 4));
    uint8_t* a2 = take(uint64_t(t * n1 * 4));
    uint8_t* b = take(uint64_t(t * k * 4));
    uint8_t* r2 = new_residual ? take(uint64_t(t * k * 4)) : r;
    const std::string mm = "matmul_f32_" + std::string(cpu::weight_format_name(f));
    std::vector<TensorView> m1{view_2d(y, DType::f32, t, k)}, m1b{view_2d(y, DType::f32, t, k)},
        m2{view_2d(a1, DType::f32, t, n1)};
    weight(n1, k, m1);
    weight(n1, k, m1b);
    weight(k, n1, m2);
    m1.push_back(view_2d(a1, DType::f32, t, n1));
    m1b.push_back(vector_at(take(uint64_t(n1 * 4)), n1));
    m1b.push_back(view_2d(a2, DType::f32, t, n1));
    m2.push_back(view_2d(b, DType::f32, t, k));
    add("rms_norm_f32", {view_2d(r, DType::f32, t, k), vector_at(g, k), view_2d(y, DType::f32, t, k)}, ip_none,
        &fp_norm);
    add(mm, m1, ip_no_bias);
    add(mm, m1b, ip_bias);
    add(mm, m2, ip_no_bias);
    add("add_f32", {view_2d(b, DType::f32, t, k), view_2d(r, DType::f32, t, k), view_2d(r2, DType::f32, t, k)},
        ip_none);
  }
};

// A device arena that programs are built on, with the host image of its contents before each
// run, and the step, error record and workspace their launches use; freed by the destructor.
struct DeviceArena {
  void* base = nullptr;
  std::vector<uint8_t> image;
  StepInfo* d_step = nullptr;
  GpuErrorRecord* d_err = nullptr;
  void* workspace = nullptr;
  GpuStep gstep;

  DeviceArena(uint64_t bytes, uint64_t workspace_bytes) {
    REQUIRE(cudaMalloc(&base, bytes) == cudaSuccess);
    REQUIRE(cudaMalloc(&d_step, sizeof(StepInfo)) == cudaSuccess);
    REQUIRE(cudaMalloc(&d_err, sizeof(GpuErrorRecord)) == cudaSuccess);
    REQUIRE(cudaMemset(d_err, 0, sizeof(GpuErrorRecord)) == cudaSuccess);
    if (workspace_bytes > 0) REQUIRE(cudaMalloc(&workspace, workspace_bytes) == cudaSuccess);
    gstep.d_step = d_step;
    gstep.d_error = d_err;
    gstep.workspace = workspace;
    gstep.workspace_bytes = workspace_bytes;
  }
  ~DeviceArena() {
    cudaFree(base);
    cudaFree(d_step);
    cudaFree(d_err);
    if (workspace) cudaFree(workspace);
  }
  uint8_t* data() const { return static_cast<uint8_t*>(base); }
  size_t offset(const TensorView& v) const { return size_t(static_cast<uint8_t*>(v.data) - data()); }

  void set_tokens(int64_t tokens) {
    const StepInfo step{tokens, 0};
    REQUIRE(cudaMemcpy(d_step, &step, sizeof(step), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  void fill(const TensorView& v, const std::vector<uint8_t>& src) {
    std::memcpy(image.data() + offset(v), src.data(), std::min<size_t>(src.size(), v.bytes));
  }
  // Random R, norm weight, the three matrices and W1b's bias of a Program of `t` rows.
  void fill_program(const Program& p, WeightFormat f, int64_t t, int32_t group, std::mt19937& rng) {
    image.assign(p.bytes, 0);
    const KernelCall& norm = p.calls[0];
    fill(norm.operands[0], f32_tensor({t, norm.operands[0].shape[1]}, rng, -3.0f, 3.0f).bytes);
    fill(norm.operands[1], f32_tensor({norm.operands[1].shape[0]}, rng, 0.5f, 1.5f).bytes);
    for (size_t c = 1; c <= 3; ++c) {
      const TensorView& w = p.calls[c].operands[1];
      std::vector<Operand> packed = packed_weight(f, {w.shape[0], w.shape[1]}, group, rng, 0.05f);
      for (size_t j = 0; j < packed.size(); ++j) fill(p.calls[c].operands[1 + j], packed[j].bytes);
    }
    const KernelCall& biased = p.calls[2];
    fill(biased.operands[biased.n_operands - 2], f32_tensor({biased.operands[1].shape[0]}, rng).bytes);
  }
  // The arena's bytes after the program ran on the image.
  std::vector<uint8_t> run(ProgramBuilder& p) {
    REQUIRE(cudaMemcpy(base, image.data(), image.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    for (size_t i = 0; i < p.calls.size(); ++i) REQUIRE(p.kernels[i]->launch(p.calls[i], gstep, nullptr).ok());
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<uint8_t> after(image.size());
    REQUIRE(cudaMemcpy(after.data(), base, after.size(), cudaMemcpyDeviceToHost) == cudaSuccess);
    return after;
  }
};

// The f32 elements of buffer v where `got` differs from `want` by more than
// tolerance x (|want| + rms(want)); `rms` receives rms(want).
int mismatches(const DeviceArena& arena, const std::vector<uint8_t>& want, const std::vector<uint8_t>& got,
               const TensorView& v, double tolerance, double& rms) {
  const float* a = reinterpret_cast<const float*>(want.data() + arena.offset(v));
  const float* b = reinterpret_cast<const float*>(got.data() + arena.offset(v));
  const uint64_t n = v.bytes / 4;
  rms = 0;
  for (uint64_t i = 0; i < n; ++i) rms += double(a[i]) * a[i];
  rms = std::sqrt(rms / double(n));
  int bad = 0;
  for (uint64_t i = 0; i < n; ++i)
    if (!(std::fabs(a[i] - b[i]) <= tolerance * (std::fabs(a[i]) + rms))) ++bad;
  return bad;
}

}  // namespace

TEST_CASE("fusion merges the norm and the matmuls that share its output, and the residual add", "[gpu][fusion]") {
  alignas(256) static uint8_t arena[1 << 22];
  Program p(arena, WeightFormat::w4, 1, 512, 384, 128, false);
  FusionStorage storage;
  const FusionStats stats = fuse_decode_calls(p.list(), storage, kAll);
  CHECK(stats.norms_fused == 1);
  CHECK(stats.matmuls_merged == 1);
  CHECK(stats.residuals_fused == 1);
  REQUIRE(p.calls.size() == 2);
  CHECK(p.names[0] == "rms_norm_f32+matmul");
  CHECK(p.calls[0].iparams[2] == 2);
  CHECK(p.names[1] == "matmul+add_f32");
}

TEST_CASE("fusion options: defaults and DSE_GPU_FUSION lists", "[gpu][fusion]") {
  const FusionOptions d;
  CHECK((!d.norm && d.norm_int4 && d.merge && d.residual && d.rope));
  const FusionOptions none = parse_fusion_options("none");
  CHECK((!none.norm && !none.norm_int4 && !none.merge && !none.residual));
  const FusionOptions some = parse_fusion_options("residual,norm,bogus");
  CHECK((some.norm && !some.norm_int4 && !some.merge && some.residual));
  const FusionOptions all = parse_fusion_options("all");
  CHECK((all.norm && all.norm_int4 && all.merge && all.residual));
  alignas(256) static uint8_t arena[1 << 22];
  // The defaults: the norm becomes the prologue of an int4 GEMV, not of an int8 one.
  for (const WeightFormat f : {WeightFormat::w4, WeightFormat::w8}) {
    INFO("format " << cpu::weight_format_name(f));
    Program p(arena, f, 1, 512, 384, f == WeightFormat::w4 ? 128 : 0, false);
    FusionStorage storage;
    const FusionStats stats = fuse_decode_calls(p.list(), storage, d);
    CHECK(stats.norms_fused == (f == WeightFormat::w4 ? 1 : 0));
    CHECK(stats.matmuls_merged == 1);
    CHECK(stats.residuals_fused == 1);
    CHECK(p.calls.size() == (f == WeightFormat::w4 ? 2u : 3u));
  }
}

TEST_CASE("fusion leaves an in-place norm and prefill programs alone", "[gpu][fusion]") {
  alignas(256) static uint8_t arena[1 << 22];
  SECTION("in-place rms_norm: the GEMV would read what another warp writes") {
    Program p(arena, WeightFormat::w4, 1, 512, 384, 128, true);
    FusionStorage storage;
    const FusionStats stats = fuse_decode_calls(p.list(), storage, kAll);
    CHECK(stats.norms_fused == 0);
    CHECK(stats.matmuls_merged == 1);
    CHECK(stats.residuals_fused == 1);
    REQUIRE(p.calls.size() == 3);
    CHECK(p.names[0] == "rms_norm_f32");
  }
  SECTION("a token capacity above 1") {
    Program p(arena, WeightFormat::w4, 8, 512, 384, 128, false);
    FusionStorage storage;
    const FusionStats stats = fuse_decode_calls(p.list(), storage, kAll);
    CHECK(stats.norms_fused + stats.matmuls_merged + stats.residuals_fused == 0);
    CHECK(p.calls.size() == 5);
  }
  SECTION("a w4 group the 16-byte path cannot take") {
    Program p(arena, WeightFormat::w4, 1, 512, 384, 16, false);
    FusionStorage storage;
    const FusionStats stats = fuse_decode_calls(p.list(), storage, kAll);
    CHECK(stats.norms_fused + stats.matmuls_merged + stats.residuals_fused == 0);
    CHECK(p.calls.size() == 5);
  }
}

TEST_CASE("a fused decode program leaves the same bytes as the unfused one in every buffer", "[gpu][fusion]") {
  if (!gpu_available()) SKIP("no GPU");
  const WeightFormat f = GENERATE(WeightFormat::w4, WeightFormat::w8, WeightFormat::f16, WeightFormat::bf16,
                                  WeightFormat::fp8, WeightFormat::f32);
  // N1 = 8192: W2 (K = N1) takes the split-K int4 GEMV, with the residual add fused into it.
  const int64_t k = GENERATE(512, 1536), n1 = GENERATE(384, 8192);
  const bool new_residual = GENERATE(false, true);
  // int4 also with int8 activations (DSE_GPU_GEMV_W4=dp4a): the norm prologue, the merged q/k/v
  // and the residual epilogue of the dp4a GEMV against its plain use.
  const bool q8 = GENERATE(false, true);
  if (q8 && f != WeightFormat::w4) return;
  const int32_t group = f == WeightFormat::w4 ? 128 : 0;
  INFO("format " << cpu::weight_format_name(f) << " K " << k << " N1 " << n1 << " add into a new buffer "
                 << new_residual << " dp4a " << q8);
  DeviceArena arena(256ull << 20, 0);
  Program unfused(arena.data(), f, 1, k, n1, group, false, new_residual);
  REQUIRE(unfused.bytes <= 256ull << 20);
  std::mt19937 rng(7u + uint32_t(k));
  arena.fill_program(unfused, f, 1, group, rng);
  arena.set_tokens(1);
  auto run = [&](Program& p) { return arena.run(p); };
  // Set only around the launches (and unset by a destructor), so that a failed check leaves no
  // setting to later tests.
  struct Dp4aScope {
    bool on;
    explicit Dp4aScope(bool o) : on(o) {
      if (on) setenv("DSE_GPU_GEMV_W4", "dp4a", 1);
    }
    ~Dp4aScope() {
      if (on) unsetenv("DSE_GPU_GEMV_W4");
    }
  };
  auto run_as = [&](Program& p) {
    const Dp4aScope scope(q8);
    return run(p);
  };
  const std::vector<uint8_t> want = run_as(unfused);
  Program fused(arena.data(), f, 1, k, n1, group, false, new_residual);
  FusionStorage storage;
  const FusionStats stats = fuse_decode_calls(fused.list(), storage, kAll);
  REQUIRE(stats.norms_fused == 1);
  REQUIRE(stats.matmuls_merged == 1);
  REQUIRE(stats.residuals_fused == 1);
  const std::vector<uint8_t> got = run_as(fused);
  // Y, A1, A2, B and R (R2) as f32; the fused GEMV sums W (w x) and scales by 1/rms afterwards, so
  // results agree to f32 rounding, not bit for bit; for w4 both round their x to f16, the unfused
  // GEMV the norm's output, the norm-fused one its own normalised values (same f16 grid, scaled).
  // With dp4a both quantize x to int8, the fused GEMV its own normalised values (which may round
  // a value at a half step the other way): 1e-2.
  const double tolerance = f == WeightFormat::w4 ? (q8 ? 1e-2 : 4e-3) : 2e-5;
  auto out_of = [&](size_t c) { return unfused.calls[c].operands[unfused.calls[c].n_operands - 1]; };
  const KernelCall& norm = unfused.calls[0];
  const TensorView outs[] = {norm.operands[2], out_of(1), out_of(2), out_of(3), norm.operands[0], out_of(4)};
  for (const TensorView& v : outs) {
    double rms = 0;
    INFO("buffer at offset " << arena.offset(v));
    CHECK(mismatches(arena, want, got, v, tolerance, rms) == 0);
  }
}

TEST_CASE("prefill fusion merges only the matmuls that share x, and only on the tensor-core path", "[gpu][fusion]") {
  alignas(256) static uint8_t arena[1 << 23];
  SECTION("a 128-token chunk: W1 and W1b become one GEMM; the norm and the add stay") {
    Program p(arena, WeightFormat::w4, 128, 512, 384, 128, false);
    FusionStorage storage;
    const FusionStats stats = fuse_prefill_calls(p.list(), storage, kAll);
    CHECK(stats.matmuls_merged == 1);
    CHECK(stats.norms_fused + stats.residuals_fused + stats.rope_stores_fused == 0);
    REQUIRE(p.calls.size() == 4);
    CHECK(p.names[0] == "rms_norm_f32");
    CHECK(p.names[1] == "matmul");
    CHECK(p.calls[1].iparams[2] == 2);
    CHECK(p.names[3] == "add_f32");
  }
  SECTION("DSE_GPU_FUSION without merge") {
    Program p(arena, WeightFormat::w4, 128, 512, 384, 128, false);
    FusionStorage storage;
    CHECK(fuse_prefill_calls(p.list(), storage, parse_fusion_options("norm,residual")).matmuls_merged == 0);
    CHECK(p.calls.size() == 5);
  }
  SECTION("a capacity below the tensor-core path's 64 tokens, and f32 weights") {
    for (const auto& [f, t] : {std::pair{WeightFormat::w4, int64_t(8)}, std::pair{WeightFormat::f32, int64_t(128)}}) {
      Program p(arena, f, t, 512, 384, f == WeightFormat::w4 ? 128 : 0, false);
      FusionStorage storage;
      CHECK(fuse_prefill_calls(p.list(), storage, kAll).matmuls_merged == 0);
      CHECK(p.calls.size() == 5);
    }
  }
}

TEST_CASE("a merged prefill GEMM leaves what the separate GEMMs leave", "[gpu][fusion][tensor-cores]") {
  if (!gpu_available()) SKIP("no GPU");
  const WeightFormat f =
      GENERATE(WeightFormat::w4, WeightFormat::w8, WeightFormat::f16, WeightFormat::bf16, WeightFormat::fp8);
  // K 1024 and N1 256: each GEMM has too few blocks to fill the GPU and splits K in two (with the
  // merged one, more blocks but still too few); K 512 splits nothing.
  const int64_t k = GENERATE(512, 1024), n1 = GENERATE(256, 384);
  const int64_t t = 128, tokens = GENERATE(128, 77);
  const int32_t group = f == WeightFormat::w4 ? 128 : 0;
  INFO("format " << cpu::weight_format_name(f) << " K " << k << " N1 " << n1 << " tokens " << tokens);
  DeviceArena arena(64ull << 20, 8ull << 20);
  Program unfused(arena.data(), f, t, k, n1, group, false);
  REQUIRE(unfused.bytes <= 64ull << 20);
  std::mt19937 rng(11u + uint32_t(k + n1));
  arena.fill_program(unfused, f, t, group, rng);
  arena.set_tokens(tokens);
  auto run = [&](Program& p) { return arena.run(p); };
  const std::vector<uint8_t> want = run(unfused);
  Program fused(arena.data(), f, t, k, n1, group, false);
  FusionStorage storage;
  REQUIRE(fuse_prefill_calls(fused.list(), storage, kAll).matmuls_merged == 1);
  const std::vector<uint8_t> got = run(fused);
  // Same f16 conversion of x and the same tiles; a K split in one and not the other (or split at
  // another place) changes only the order of the f32 sums. Rows past `tokens` must stay as they
  // were (zeros of the image) in both.
  auto out_of = [&](size_t c) { return unfused.calls[c].operands[unfused.calls[c].n_operands - 1]; };
  for (const TensorView& v : {out_of(1), out_of(2), out_of(3), out_of(4)}) {
    double rms = 0;
    INFO("buffer at offset " << arena.offset(v));
    CHECK(mismatches(arena, want, got, v, 1e-4, rms) == 0);
    CHECK(rms > 0.0);
  }
}

}  // namespace dse::gpu::test

namespace dse::gpu::test {
namespace {

// rope(q), rope(k), kv_store(k), kv_store(v) on addresses from `base`, as a decode step of a Llama
// layer has them (q: hq heads, k and v: hk heads of head_dim d; table [S, rot_dim]).
struct RopeProgram : ProgramBuilder {
  std::vector<int64_t> ip_q, ip_k, ip_none;

  RopeProgram(uint8_t* base, int64_t hq, int64_t hk, int64_t d, int64_t rot_dim, bool interleaved, int64_t s,
              DType k_cache_dtype)
      : ProgramBuilder(base, 16) {
    const TensorView q = view_2d(take(uint64_t(hq * d * 4)), DType::f32, 1, hq * d);
    const TensorView k = view_2d(take(uint64_t(hk * d * 4)), DType::f32, 1, hk * d);
    const TensorView v = view_2d(take(uint64_t(hk * d * 4)), DType::f32, 1, hk * d);
    const TensorView table = view_2d(take(uint64_t(s * rot_dim * 4)), DType::f32, s, rot_dim);
    const TensorView kc =
        view_2d(take(uint64_t(cpu::dtype_bytes(k_cache_dtype, s * hk * d))), k_cache_dtype, s, hk * d);
    const TensorView vc = view_2d(take(uint64_t(s * hk * d * 4)), DType::f32, s, hk * d);
    ip_q = {hq, d, 0, rot_dim, interleaved ? 1 : 0};
    ip_k = {hk, d, 0, rot_dim, interleaved ? 1 : 0};
    add("rope_f32", {q, table}, ip_q);
    add("rope_f32", {k, table}, ip_k);
    add("kv_store", {k, kc}, ip_none);
    add("kv_store", {v, vc}, ip_none);
  }
};

const FusionOptions kRopeOnly{false, false, false, true};

}  // namespace

TEST_CASE("fusion makes rope, rope, kv_store, kv_store one launch where the rotation is full width",
          "[gpu][fusion]") {
  alignas(256) static uint8_t arena[1 << 20];
  {
    RopeProgram p(arena, 4, 2, 64, 64, false, 32, DType::f16);
    FusionStorage storage;
    CHECK(fuse_decode_calls(p.list(), storage, kRopeOnly).rope_stores_fused == 1);
    CHECK(p.calls.size() == 1);
  }
  {
    RopeProgram p(arena, 4, 2, 64, 32, true, 32, DType::f16);  // MLA-like partial rotation: left alone
    FusionStorage storage;
    CHECK(fuse_decode_calls(p.list(), storage, kRopeOnly).rope_stores_fused == 0);
    CHECK(p.calls.size() == 4);
  }
  {
    RopeProgram p(arena, 4, 2, 64, 64, false, 32, DType::f16);  // on by default
    FusionStorage storage;
    CHECK(fuse_decode_calls(p.list(), storage).rope_stores_fused == 1);
  }
}

TEST_CASE("fused rope + kv_store leaves the bytes the four calls leave", "[gpu][fusion]") {
  if (!gpu_available()) SKIP("no GPU");
  const bool interleaved = GENERATE(false, true);
  const DType kc_dtype = GENERATE(DType::f16, DType::f32);
  const int64_t pos = GENERATE(0, 37, 63);
  INFO("interleaved " << interleaved << " k cache " << cpu::dtype_name(kc_dtype) << " position " << pos);
  void* base = nullptr;
  REQUIRE(cudaMalloc(&base, 4 << 20) == cudaSuccess);
  RopeProgram unfused(static_cast<uint8_t*>(base), 12, 2, 128, 128, interleaved, 64, kc_dtype);
  std::mt19937 rng(11u + uint32_t(pos));
  std::vector<uint8_t> image(unfused.bytes);
  std::uniform_int_distribution<int> byte(0, 255);
  for (uint8_t& b : image) b = uint8_t(byte(rng));
  auto put = [&](const TensorView& v, const std::vector<uint8_t>& src) {
    std::memcpy(image.data() + (static_cast<uint8_t*>(v.data) - static_cast<uint8_t*>(base)), src.data(), v.bytes);
  };
  for (const TensorView* v : {&unfused.calls[0].operands[0], &unfused.calls[1].operands[0],
                              &unfused.calls[3].operands[0], &unfused.calls[0].operands[1]})
    put(*v, f32_tensor({v->shape[0], v->shape[1]}, rng).bytes);
  StepInfo* d_step;
  GpuErrorRecord* d_err;
  REQUIRE(cudaMalloc(&d_step, sizeof(StepInfo)) == cudaSuccess);
  REQUIRE(cudaMalloc(&d_err, sizeof(GpuErrorRecord)) == cudaSuccess);
  const StepInfo step{1, pos};
  REQUIRE(cudaMemcpy(d_step, &step, sizeof(step), cudaMemcpyHostToDevice) == cudaSuccess);
  GpuStep gstep;
  gstep.d_step = d_step;
  gstep.d_error = d_err;
  auto run = [&](RopeProgram& p) {
    REQUIRE(cudaMemcpy(base, image.data(), image.size(), cudaMemcpyHostToDevice) == cudaSuccess);
    REQUIRE(cudaMemset(d_err, 0, sizeof(GpuErrorRecord)) == cudaSuccess);
    for (size_t i = 0; i < p.calls.size(); ++i) REQUIRE(p.kernels[i]->launch(p.calls[i], gstep, nullptr).ok());
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    std::vector<uint8_t> after(image.size());
    REQUIRE(cudaMemcpy(after.data(), base, after.size(), cudaMemcpyDeviceToHost) == cudaSuccess);
    GpuErrorRecord rec;
    REQUIRE(cudaMemcpy(&rec, d_err, sizeof(rec), cudaMemcpyDeviceToHost) == cudaSuccess);
    CHECK(rec.code == 0);
    return after;
  };
  const std::vector<uint8_t> want = run(unfused);
  RopeProgram fused(static_cast<uint8_t*>(base), 12, 2, 128, 128, interleaved, 64, kc_dtype);
  FusionStorage storage;
  REQUIRE(fuse_decode_calls(fused.list(), storage, kRopeOnly).rope_stores_fused == 1);
  const std::vector<uint8_t> got = run(fused);
  // Same float operations in the same order: the bytes agree (the rotation may contract into an
  // FMA differently in the two kernels, hence one unit of the last place on q and k).
  size_t differ = 0;
  for (size_t i = 0; i + 4 <= want.size(); i += 4) {
    float a, b;
    std::memcpy(&a, want.data() + i, 4);
    std::memcpy(&b, got.data() + i, 4);
    if (std::memcmp(&a, &b, 4) != 0 && !(std::fabs(a - b) <= 1e-6f * std::fabs(a))) ++differ;
  }
  CHECK(differ == 0);
  cudaFree(base);
  cudaFree(d_step);
  cudaFree(d_err);
}

}  // namespace dse::gpu::test
