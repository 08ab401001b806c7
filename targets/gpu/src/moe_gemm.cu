// Routed experts of a prefill chunk as grouped GEMMs (see moe_gemm.cuh).
#include "moe_gemm.cuh"

#include <algorithm>

#include "common.cuh"
#include "gemm_tc.cuh"
#include "launch.cuh"

namespace dse::gpu {

namespace {

constexpr int kSortThreads = 1024;
constexpr int kRowThreads = 256;

// One block. Entries are counted per expert in shared memory, thread 0 turns the counts into
// offsets, then every entry takes the next row of its expert. Both passes use shared-memory
// atomics, so the order of an expert's rows varies from run to run; no result depends on it (a
// row's GEMM dot products, its f16 scaling and the combine's sum in slot order are the same
// wherever the row sits). The first version, one thread per expert scanning every entry twice,
// took 246 us per V2-Lite layer at 512 tokens (Nsight, H200), 7.5% of the prefill.
__global__ void __launch_bounds__(kSortThreads)
    sort_kernel(const int32_t* ids, int64_t experts, int64_t top_k, int64_t cap, int32_t* bad, const StepInfo* step,
                GpuErrorRecord* err, int32_t* offsets, int32_t* row_entry, int32_t* entry_row) {
  grid_dependency_sync();
  extern __shared__ int32_t first[];  // [experts + 1] offsets, then [experts] counts / next rows
  int32_t* next = first + experts + 1;
  __shared__ int skip;
  const int64_t n = step_rows(step, cap) * top_k;
  if (threadIdx.x == 0) skip = *bad;  // check_ids_kernel ran first: ids are in [0, E) unless set
  for (int64_t e = threadIdx.x; e < experts; e += kSortThreads) next[e] = 0;
  __syncthreads();
  if (!skip)
    for (int64_t i = threadIdx.x; i < n; i += kSortThreads) atomicAdd(&next[ids[i]], 1);
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t run = 0;
    for (int64_t e = 0; e < experts; ++e) {
      const int32_t c = next[e];
      if (c > cap && !skip) {  // an expert chosen twice by one token
        skip = 1;
        *bad = 1;
        record_error(err, StatusCode::invalid_argument, GpuOp::moe_ffn, e, cap, c);
      }
      first[e] = run;
      run += c;
    }
    first[experts] = run;
    if (skip)
      for (int64_t e = 0; e <= experts; ++e) first[e] = 0;
  }
  __syncthreads();
  for (int64_t e = threadIdx.x; e <= experts; e += kSortThreads) offsets[e] = first[e];
  if (skip) return;
  for (int64_t e = threadIdx.x; e < experts; e += kSortThreads) next[e] = first[e];
  __syncthreads();
  for (int64_t i = threadIdx.x; i < n; i += kSortThreads) {
    const int32_t row = atomicAdd(&next[ids[i]], 1);
    row_entry[row] = int32_t(i);
    entry_row[i] = row;
  }
}

// act[r, :] = silu(g[r, :I]) * g[r, I:2I] in f16, scaled by 2^-f16_row_exponent per row as
// rows_to_f16 does (gemm_tc.cu), for the rows the sort produced.
__global__ void __launch_bounds__(kRowThreads)
    silu_mul_to_f16_kernel(const float* g, int64_t inter, const int32_t* offsets, int64_t experts, __half* act,
                           float* act_mul) {
  grid_dependency_sync();
  __shared__ float scratch[kRowThreads / kLanes];
  const int64_t r = blockIdx.x;
  if (r >= offsets[experts]) return;
  const float* gate = g + r * 2 * inter;
  const float* up = gate + inter;
  float m = 0.0f;
  for (int64_t i = threadIdx.x; i < inter; i += kRowThreads) m = fmaxf(m, fabsf(silu(gate[i]) * up[i]));
  const int e = f16_row_exponent(block_max(m, scratch));
  const float s = ldexpf(1.0f, -e);
  for (int64_t i = threadIdx.x; i < inter; i += kRowThreads)
    act[r * inter + i] = __float2half_rn(silu(gate[i]) * up[i] * s);
  if (threadIdx.x == 0) act_mul[r] = ldexpf(1.0f, e);
}

// out[t, n] = sum over j (in order) of route_w[t, j] * y[entry_row[t k + j], n].
__global__ void __launch_bounds__(kRowThreads)
    combine_kernel(const float* y, const int32_t* entry_row, const float* route_w, int64_t top_k, int64_t hidden,
                   int64_t cap, const int32_t* bad, const StepInfo* step, float* out) {
  grid_dependency_sync();
  const int64_t t = blockIdx.x;
  if (t >= step_rows(step, cap) || *bad) return;
  for (int64_t n = threadIdx.x; n < hidden; n += kRowThreads) {
    float sum = 0.0f;
    for (int64_t j = 0; j < top_k; ++j)
      sum += route_w[t * top_k + j] * y[int64_t(entry_row[t * top_k + j]) * hidden + n];
    out[t * hidden + n] = sum;
  }
}

}  // namespace

template <WeightFormat F>
Status launch_moe_gemm(const MoeGemmShape& s, const float* x, const int32_t* ids, const float* route_w,
                       const WeightMatrix& gate_up, const WeightMatrix& down, float* out, int32_t* bad, void* workspace,
                       const GpuStep& step, GpuStream stream) {
  if constexpr (F == WeightFormat::f32) {
    return Status(StatusCode::unsupported, "moe_ffn_f32: the grouped GEMM takes no f32 experts");
  } else {
    const MoeGemmLayout l = moe_gemm_layout(s);
    uint8_t* base = static_cast<uint8_t*>(workspace);
    int32_t* offsets = reinterpret_cast<int32_t*>(base + l.offsets);
    int32_t* row_entry = reinterpret_cast<int32_t*>(base + l.row_entry);
    int32_t* entry_row = reinterpret_cast<int32_t*>(base + l.entry_row);
    __half* xh = reinterpret_cast<__half*>(base + l.xh);
    float* x_mul = reinterpret_cast<float*>(base + l.x_mul);
    __half* act = reinterpret_cast<__half*>(base + l.act);
    float* act_mul = reinterpret_cast<float*>(base + l.act_mul);
    float* g = reinterpret_cast<float*>(base + l.g);
    const int64_t rows = s.cap * s.top_k;

    launch_kernel(sort_kernel, 1, kSortThreads, size_t(2 * s.experts + 1) * 4, stream, ids, s.experts, s.top_k, s.cap,
                  bad, step.d_step, step.d_error, offsets, row_entry, entry_row);
    DSE_RETURN_IF_ERROR(launch_status("moe_ffn_f32 (sort by expert)"));
    launch_rows_to_f16(x, s.hidden, rows, step.d_step, row_entry, int32_t(s.top_k), offsets + s.experts, xh, x_mul,
                       nullptr, stream);
    DSE_RETURN_IF_ERROR(launch_gemm_tc_f16<F>(xh, x_mul, s.cap, offsets, s.experts,
                                              single_part(gate_up, 2 * s.inter, nullptr, g), 1, step.d_step, stream));
    launch_kernel(silu_mul_to_f16_kernel, unsigned(rows), kRowThreads, 0, stream, g, s.inter, offsets, s.experts, act,
                  act_mul);
    DSE_RETURN_IF_ERROR(launch_gemm_tc_f16<F>(act, act_mul, s.cap, offsets, s.experts,
                                              single_part(down, s.hidden, nullptr, g), 1, step.d_step, stream));
    launch_kernel(combine_kernel, unsigned(s.cap), kRowThreads, 0, stream, g, entry_row, route_w, s.top_k, s.hidden,
                  s.cap, bad, step.d_step, out);
    return launch_status("moe_ffn_f32 (grouped GEMM)");
  }
}

#define DSE_MOE_GEMM(F)                                                                                               \
  template Status launch_moe_gemm<WeightFormat::F>(const MoeGemmShape&, const float*, const int32_t*, const float*,   \
                                                   const WeightMatrix&, const WeightMatrix&, float*, int32_t*, void*, \
                                                   const GpuStep&, GpuStream);
DSE_MOE_GEMM(f32)
DSE_MOE_GEMM(f16)
DSE_MOE_GEMM(bf16)
DSE_MOE_GEMM(w8)
DSE_MOE_GEMM(w4)
DSE_MOE_GEMM(fp8)
#undef DSE_MOE_GEMM

}  // namespace dse::gpu
