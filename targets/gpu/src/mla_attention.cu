// mla_attention_f32: absorb W_UK into the query, attend over the compressed latent cache with
// flash-decoding, then apply W_UV to the attended latent.
#include "mla_attention.cuh"

#include <string>

#include "attention_decode.cuh"
#include "common.cuh"
#include "kv_cache.cuh"
#include "launch.cuh"
#include "mla_prefill_tc.cuh"
#include "split_softmax.cuh"

namespace dse::gpu {
namespace {

constexpr int kSplitThreads = 256;
constexpr int kDimsPerThread = 8;  // C <= 2048
constexpr int64_t kMaxLatent = kSplitThreads * kDimsPerThread;
constexpr int64_t kMaxHeadDim = 512;

struct Shape {
  int64_t t_cap, s, h, dn, dr, c, dv;
};

Shape shape_of(const KernelCall& call) {
  return {call.operands[0].shape[0], call.operands[1].shape[0], call.iparams[0], call.iparams[1],
          call.iparams[2],           call.iparams[3],           call.iparams[4]};
}

// Operands: q, latent_cache (+ scales when quantized), pe_cache (+ scales), w_uk, w_uv, out.
// The index of w_uk, after the caches and their scale slots.
uint32_t weights_index(const KernelCall& call) {
  uint32_t index = 1;
  take_cache_operand(call, index);
  take_cache_operand(call, index);
  return index;
}

// The workspace layout (floats): mla_scratch (scratch_layout.h), for `slots` cache slots.
MlaScratch layout_of(const Shape& sh, int64_t slots) { return mla_scratch(sh.t_cap, sh.s, sh.h, sh.c, slots); }

// q_abs[t, h, c] = sum_d W_UK[h, d, c] q_nope[t, h, d]. grid (ceil(C / 32), H, ceil(token_cap /
// TB)), 256 threads: lane = c within a 32-wide slice (coalesced along c), the 8 warps split d, and
// their partial sums are added in warp order (fixed, so deterministic). 8x the blocks and 1/8 the
// serial loads per thread of one thread per c. A block takes TB tokens, so that each weight it
// loads serves TB of them: with one token per block a V2-Lite prefill of 512 tokens read W_UK
// from L2 once per token, 285 us per layer (Nsight, H200).
constexpr int kAbsorbWarps = 8;
constexpr int kPrefillTokens = 8;  // TB of both projections for token capacities from 8 on

// Row pointers of tokens t0 .. t0 + TB - 1, those past the step's `rows` clamped to its last row
// (computed, not stored).
template <int TB>
__device__ __forceinline__ void token_rows(const float* base, int64_t stride, int64_t t0, int64_t rows,
                                           const float* (&p)[TB]) {
#pragma unroll
  for (int u = 0; u < TB; ++u) p[u] = base + (t0 + u < rows ? t0 + u : rows - 1) * stride;
}

template <typename SW, int TB>
__global__ void __launch_bounds__(kAbsorbWarps * 32) absorb_q_kernel(const float* q, const typename SW::type* w_uk,
                                                                     float* q_abs, int64_t h_count, int64_t dn,
                                                                     int64_t dq, int64_t c, int64_t cap,
                                                                     const StepInfo* step) {
  static_assert(TB <= kAbsorbWarps, "warp u adds token u's partial sums");
  grid_dependency_sync();
  const int64_t t0 = int64_t(blockIdx.z) * TB;
  const int64_t rows = step_rows(step, cap);
  if (t0 >= rows) return;
  const int64_t h = blockIdx.y;
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes;
  const int64_t i = int64_t(blockIdx.x) * kLanes + lane;
  __shared__ float part[TB][kAbsorbWarps][kLanes];
  const float* q_nope[TB];
  token_rows<TB>(q + h * dq, h_count * dq, t0, rows, q_nope);
  float acc[TB];
#pragma unroll
  for (int u = 0; u < TB; ++u) acc[u] = 0.0f;
  if (i < c) {
    const typename SW::type* w = w_uk + h * dn * c + i;
#pragma unroll 4
    for (int64_t d = warp; d < dn; d += kAbsorbWarps) {
      const float wv = SW::load(w, d * c);
#pragma unroll
      for (int u = 0; u < TB; ++u) acc[u] = fmaf(wv, q_nope[u][d], acc[u]);
    }
  }
#pragma unroll
  for (int u = 0; u < TB; ++u) part[u][warp][lane] = acc[u];
  __syncthreads();
  if (warp < TB && t0 + warp < rows && i < c) {
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kAbsorbWarps; ++k) sum += part[warp][k][lane];
    q_abs[((t0 + warp) * h_count + h) * c + i] = sum;
  }
}

// Eight consecutive weights as f32 (16 bytes of f16/bf16, 32 of f32; p 16-byte aligned), loaded
// past L1: W_UK and W_UV are read once per step.
template <typename SW>
__device__ __forceinline__ void load8(const typename SW::type* p, float (&v)[8]) {
  if constexpr (sizeof(typename SW::type) == 4) {
    const uint4 a = load_stream16(p), b = load_stream16(p + 4);
    const uint32_t w[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int i = 0; i < 8; ++i) v[i] = __uint_as_float(w[i]);
  } else {
    const uint4 q = load_stream16(p);
    const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const uint16_t lo = uint16_t(w[i] & 0xffffu), hi = uint16_t(w[i] >> 16);
      v[2 * i] = SW::load(&lo, 0);
      v[2 * i + 1] = SW::load(&hi, 0);
    }
  }
}

// out[t, h*dv + v] = sum_c W_UV[h, v, c] o_lat[t, h, c]; one logical warp per (v, h, TB tokens):
// each weight it loads serves TB tokens (with one token per warp a V2-Lite prefill of 512 tokens
// took 318 us per layer, W_UV read from L2 once per token; Nsight, H200).
// kVec (C % 8 == 0, 16-byte aligned W_UV): lane l takes c = 8 l + 256 i .. + 7 of the row with
// 16-byte loads. Nsight Compute on an H200, one V2-Lite layer: 5.2 us with 2-byte loads, 4.3 with
// these. (The same change to absorb_q_kernel, 8 values per lane, left 32 blocks for V2-Lite's
// shape and took 4.9 -> 6.3 us; absorb keeps its 2-byte loads over 256 blocks.)
template <typename SW, bool kVec, int TB>
__global__ void __launch_bounds__(128)
    project_v_kernel(const float* o_lat, const typename SW::type* w_uv, float* out, int64_t h_count, int64_t dv,
                     int64_t c, int64_t cache_rows, int64_t cap, const StepInfo* step) {
  grid_dependency_sync();
  const int64_t t0 = int64_t(blockIdx.z) * TB;
  const int64_t rows = step_rows(step, cap);
  if (t0 >= rows || !positions_fit(step, rows, slot_rows(*step, cache_rows))) return;
  const int64_t h = blockIdx.y;
  const int64_t v = int64_t(blockIdx.x) * 4 + threadIdx.x / kLanes;
  if (v >= dv) return;
  const int lane = threadIdx.x % kLanes;
  const typename SW::type* w = w_uv + (h * dv + v) * c;
  const float* o[TB];
  token_rows<TB>(o_lat + h * c, h_count * c, t0, rows, o);
  float acc[TB];
#pragma unroll
  for (int u = 0; u < TB; ++u) acc[u] = 0.0f;
  if constexpr (kVec) {
#pragma unroll 2
    for (int64_t i = 8 * lane; i < c; i += 8 * kLanes) {
      float wv[8];
      load8<SW>(w + i, wv);
#pragma unroll
      for (int u = 0; u < TB; ++u) {
        const float4 a = *reinterpret_cast<const float4*>(o[u] + i), b = *reinterpret_cast<const float4*>(o[u] + i + 4);
        acc[u] = fmaf(wv[0], a.x, fmaf(wv[1], a.y, fmaf(wv[2], a.z, fmaf(wv[3], a.w, acc[u]))));
        acc[u] = fmaf(wv[4], b.x, fmaf(wv[5], b.y, fmaf(wv[6], b.z, fmaf(wv[7], b.w, acc[u]))));
      }
    }
  } else {
#pragma unroll 4
    for (int64_t i = lane; i < c; i += kLanes) {
      const float wv = SW::load(w, i);
#pragma unroll
      for (int u = 0; u < TB; ++u) acc[u] = fmaf(wv, o[u][i], acc[u]);
    }
  }
#pragma unroll
  for (int u = 0; u < TB; ++u) {
    const float s = warp_sum(acc[u]);
    if (lane == 0 && t0 + u < rows) out[(t0 + u) * h_count * dv + h * dv + v] = s;
  }
}

// Whether the 16-byte kernel applies: whole 8-value steps and 16-byte aligned weights.
bool vec_weights_ok(const Shape& sh, const void* w) {
  return sh.c % 8 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

// TB tokens per block from a token capacity of kPrefillTokens on (prefill, batched decode), one
// at decode.
template <typename SW, int TB>
void launch_absorb_at(const Shape& sh, const KernelCall& call, float* q_abs, const StepInfo* step, GpuStream stream) {
  const dim3 grid(unsigned(ceil_div(sh.c, kLanes)), unsigned(sh.h), unsigned(ceil_div(sh.t_cap, TB)));
  launch_kernel(absorb_q_kernel<SW, TB>, grid, kAbsorbWarps * 32, 0, stream,
                static_cast<const float*>(call.operands[0].data),
                static_cast<const typename SW::type*>(call.operands[weights_index(call)].data), q_abs, sh.h, sh.dn,
                sh.dn + sh.dr, sh.c, sh.t_cap, step);
}

template <typename SW>
void launch_absorb(const Shape& sh, const KernelCall& call, float* q_abs, const StepInfo* step, GpuStream stream) {
  if (sh.t_cap >= kPrefillTokens) launch_absorb_at<SW, kPrefillTokens>(sh, call, q_abs, step, stream);
  else launch_absorb_at<SW, 1>(sh, call, q_abs, step, stream);
}

template <typename SW, int TB>
void launch_project_at(const Shape& sh, const KernelCall& call, const float* o_lat, const StepInfo* step,
                       GpuStream stream) {
  const void* w = call.operands[weights_index(call) + 1].data;
  const auto kernel = vec_weights_ok(sh, w) ? project_v_kernel<SW, true, TB> : project_v_kernel<SW, false, TB>;
  const dim3 grid(unsigned(ceil_div(sh.dv, 4)), unsigned(sh.h), unsigned(ceil_div(sh.t_cap, TB)));
  launch_kernel(kernel, grid, 128, 0, stream, o_lat, static_cast<const typename SW::type*>(w),
                static_cast<float*>(call.operands[weights_index(call) + 2].data), sh.h, sh.dv, sh.c, sh.s, sh.t_cap,
                step);
}

template <typename SW>
void launch_project(const Shape& sh, const KernelCall& call, const float* o_lat, const StepInfo* step,
                    GpuStream stream) {
  if (sh.t_cap >= kPrefillTokens) launch_project_at<SW, kPrefillTokens>(sh, call, o_lat, step, stream);
  else launch_project_at<SW, 1>(sh, call, o_lat, step, stream);
}

// out = W_UV o_lat, for W_UV's dtype `uv`.
Status launch_projection(const Shape& sh, const KernelCall& call, DType uv, const float* o_lat, const GpuStep& step,
                         GpuStream stream) {
  if (uv == DType::f16) launch_project<F16Storage>(sh, call, o_lat, step.d_step, stream);
  else if (uv == DType::bf16) launch_project<BF16Storage>(sh, call, o_lat, step.d_step, stream);
  else launch_project<F32Storage>(sh, call, o_lat, step.d_step, stream);
  return launch_status("mla_attention_f32 (project)");
}

#if !defined(DSE_GPU_HIP)
// The tensor-core prefill kernel (mla_prefill_tc.cuh) for a prefill program's step: f16 latent
// and rope caches, C = 512 and dr = 64, 16-byte aligned operands, unless DSE_GPU_TC_MLA=0. Runs
// it and returns true; false (nothing launched) where it does not apply or the device cannot
// give it the shared memory (sm_89, sm_120).
bool launch_mla_prefill_tc(const Shape& sh, const KernelCall& call, const GpuCacheOperand& lc,
                           const GpuCacheOperand& pc, const float* q_abs, float* o_lat, const GpuStep& step,
                           GpuStream stream) {
  constexpr int C = 512, DR = 64;
  if (env_is("DSE_GPU_TC_MLA", "0") || !step.one_sequence || sh.c != C || sh.dr != DR || sh.t_cap < 16) return false;
  if (lc.cache->dtype != DType::f16 || pc.cache->dtype != DType::f16) return false;
  const void* q = call.operands[0].data;
  const uintptr_t any = reinterpret_cast<uintptr_t>(q) | reinterpret_cast<uintptr_t>(lc.cache->data) |
                        reinterpret_cast<uintptr_t>(pc.cache->data) | reinterpret_cast<uintptr_t>(q_abs) |
                        reinterpret_cast<uintptr_t>(o_lat);
  if (any % 16 != 0 || sh.dn % 4 != 0) return false;
  auto kernel = mla_prefill_tc_kernel<C, DR>;
  constexpr size_t smem = mla_prefill_tc_smem_bytes<C, DR>();
  if (!allow_dynamic_smem(kernel, smem)) {
    (void)cudaGetLastError();
    return false;
  }
  MlaPrefillArgs p;
  p.q_abs = q_abs;
  p.q_pe = static_cast<const float*>(q) + sh.dn;
  p.q_tok = sh.h * (sh.dn + sh.dr);
  p.q_head = sh.dn + sh.dr;
  p.latent = static_cast<const __half*>(lc.cache->data);
  p.pe = static_cast<const __half*>(pc.cache->data);
  p.o_lat = o_lat;
  p.heads = sh.h;
  p.scale = call.fparams[0];
  p.slot_rows = host_slot_rows(sh.s, step.slots);
  p.token_cap = sh.t_cap;
  p.step = step.d_step;
  p.err = step.d_error;
  const dim3 grid(unsigned(ceil_div(sh.t_cap * sh.h, kMlaTcRows)), 1, unsigned(C / kMlaTcSlice));
  launch_kernel(kernel, grid, kMlaTcThreads, smem, stream, p);
  return true;
}
#endif

}  // namespace

uint64_t mla_attention_f32_workspace(const KernelCall& call) { return mla_attention_workspace_bytes(call); }

Status launch_mla_attention_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const Shape sh = shape_of(call);
  if (sh.c > kMaxLatent || sh.dn > kMaxHeadDim || sh.dr > kMaxHeadDim || sh.dv > kMaxHeadDim) {
    return Status(StatusCode::unsupported,
                  "mla_attention_f32 (GPU): C " + std::to_string(sh.c) + ", dn " + std::to_string(sh.dn) + ", dr " +
                      std::to_string(sh.dr) + ", dv " + std::to_string(sh.dv) + " exceed the GPU kernel's bounds (C <= " +
                      std::to_string(kMaxLatent) + ", others <= " + std::to_string(kMaxHeadDim) +
                      "); use the CPU backend for this model");
  }
  if (sh.t_cap <= 0 || sh.h <= 0) return Status::Ok();
  const MlaScratch lay = layout_of(sh, step.slots);
  const uint64_t need = uint64_t(lay.total) * sizeof(float);
  if (step.workspace_bytes < need || step.workspace == nullptr) {
    return Status(StatusCode::invalid_argument, "mla_attention_f32 (GPU): needs " + std::to_string(need) +
                                                    " bytes of workspace, got " + std::to_string(step.workspace_bytes) +
                                                    "; size it with the registry's workspace_bytes");
  }
  float* ws = static_cast<float*>(step.workspace);
  float* q_abs = ws + lay.q_abs;
  float* o_lat = ws + lay.o_lat;
  uint32_t index = 1;
  const GpuCacheOperand lc = take_cache_operand(call, index);
  const GpuCacheOperand pc = take_cache_operand(call, index);
  const DType uk = call.operands[index].dtype, uv = call.operands[index + 1].dtype;
  if (uk == DType::f16) launch_absorb<F16Storage>(sh, call, q_abs, step.d_step, stream);
  else if (uk == DType::bf16) launch_absorb<BF16Storage>(sh, call, q_abs, step.d_step, stream);
  else launch_absorb<F32Storage>(sh, call, q_abs, step.d_step, stream);
  DSE_RETURN_IF_ERROR(launch_status("mla_attention_f32 (absorb)"));

#if !defined(DSE_GPU_HIP)
  if (launch_mla_prefill_tc(sh, call, lc, pc, q_abs, o_lat, step, stream)) {
    DSE_RETURN_IF_ERROR(launch_status("mla_attention_f32 (prefill, tensor cores)"));
    return launch_projection(sh, call, uv, o_lat, step, stream);
  }
#endif
  SplitArgs a{};
  a.q1 = q_abs;
  a.q1_tok = sh.h * sh.c;
  a.q1_head = sh.c;
  a.d1 = int(sh.c);
  a.q2 = static_cast<const float*>(call.operands[0].data) + sh.dn;
  a.q2_tok = sh.h * (sh.dn + sh.dr);
  a.q2_head = sh.dn + sh.dr;
  a.d2 = int(sh.dr);
  a.k1 = lc.cache->data;
  a.k1_row = sh.c;
  a.k1_head = 0;
  a.k1_scales = lc.scales;  // one group per row: g is 0 (one latent "kv head")
  a.k1_scale_row = 1;
  a.k2 = pc.cache->data;
  a.k2_row = sh.dr;
  a.k2_scales = pc.scales;
  a.v = lc.cache->data;
  a.v_row = sh.c;
  a.v_head = 0;
  a.v_scales = lc.scales;
  a.v_scale_row = 1;
  a.dv = int(sh.c);
  a.heads = int(sh.h);
  a.heads_per_kv = int(sh.h);  // one latent "kv head" shared by all heads
  a.scale = call.fparams[0];
  a.cache_rows = sh.s;
  a.slot_rows = host_slot_rows(sh.s, step.slots);
  a.plan = lay.plan;
  a.token_cap = sh.t_cap;
  a.part_out = ws + lay.partials;
  a.part_ml = a.part_out + sh.t_cap * sh.h * lay.plan.n_splits * sh.c;
  a.step = step.d_step;
  a.err = step.d_error;
  a.op = GpuOp::mla_attention;
  if (decode_split_chosen(a, lc.cache->dtype == DType::f16 && pc.cache->dtype == DType::f16)) {
    launch_decode_split_kernel(a, stream);
  } else {
    with_cache_storage(lc.cache->dtype, [&](auto l) {
      with_cache_storage(pc.cache->dtype, [&](auto p) {
        launch_split_kernel<decltype(l), decltype(p), decltype(l), kSplitThreads, kDimsPerThread>(a, stream);
      });
    });
  }
  DSE_RETURN_IF_ERROR(launch_status("mla_attention_f32 (split)"));
  launch_kernel(combine_kernel<>, dim3(unsigned(sh.h), unsigned(sh.t_cap)), 128, combine_smem_bytes(lay.plan.n_splits),
                stream, a.part_out, a.part_ml, lay.plan, a.heads, a.dv, o_lat, sh.h * sh.c, sh.c, sh.s, sh.t_cap,
                step.d_step);
  DSE_RETURN_IF_ERROR(launch_status("mla_attention_f32 (combine)"));
  return launch_projection(sh, call, uv, o_lat, step, stream);
}

}  // namespace dse::gpu
