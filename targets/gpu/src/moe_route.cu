// moe_route_f32: one block per token; scores and masks in shared memory.
#include "moe_route.cuh"

#include <string>

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxExperts = 1024;

struct Pick {
  float v;
  int i;  // -1: nothing
};

// True when a should be chosen over b: a real candidate beats none; a number beats NaN; a larger
// value wins; on ties (and between NaNs) the lower index wins. This is the order in which the
// CPU's sequential scan (arg_max_untaken) picks.
__device__ __forceinline__ bool better(const Pick& a, const Pick& b) {
  if (a.i < 0) return false;
  if (b.i < 0) return true;
  const bool an = isnan(a.v), bn = isnan(b.v);
  if (an != bn) return bn;
  if (!an && a.v != b.v) return a.v > b.v;
  return a.i < b.i;
}

__device__ Pick block_arg_max(Pick p, Pick* scratch) {
  const int lane = threadIdx.x % kLanes, warp = threadIdx.x / kLanes;
#pragma unroll
  for (int m = kLanes / 2; m > 0; m >>= 1) {
    Pick o;
    o.v = __shfl_xor_sync(0xffffffffu, p.v, m, kLanes);
    o.i = __shfl_xor_sync(0xffffffffu, p.i, m, kLanes);
    if (better(o, p)) p = o;
  }
  __syncthreads();
  if (lane == 0) scratch[warp] = p;
  __syncthreads();
  Pick best = scratch[0];
  for (int w = 1; w < kThreads / kLanes; ++w)
    if (better(scratch[w], best)) best = scratch[w];
  return best;
}

struct RouteArgs {
  const float* logits;
  const float* bias;
  int32_t* ids;
  float* weights;
  int64_t e_count, top_k, n_group, topk_group;
  bool sigmoid, norm;
  int method;
  float scaling;
  int64_t cap;
  const StepInfo* step;
};

__global__ void __launch_bounds__(kThreads) moe_route_kernel(RouteArgs a) {
  grid_dependency_sync();
  __shared__ float s[kMaxExperts];
  __shared__ float choice[kMaxExperts];
  __shared__ bool taken[kMaxExperts];
  __shared__ float group_score[kMaxExperts];
  __shared__ bool group_kept[kMaxExperts];
  __shared__ double dscratch[kThreads / kLanes];
  __shared__ float fscratch[kThreads / kLanes];
  __shared__ Pick pscratch[kThreads / kLanes];
  __shared__ float picked_w[64];
  const int64_t t = blockIdx.x;
  if (t >= step_rows(a.step, a.cap)) return;
  const int64_t e_count = a.e_count;
  const float* lg = a.logits + t * e_count;
  if (a.sigmoid) {
    for (int64_t e = threadIdx.x; e < e_count; e += kThreads) s[e] = float(1.0 / (1.0 + exp(-double(lg[e]))));
  } else {
    float mx = -INFINITY;
    for (int64_t e = threadIdx.x; e < e_count; e += kThreads) mx = fmaxf(mx, lg[e]);
    mx = block_max(mx, fscratch);
    double sum = 0.0;
    for (int64_t e = threadIdx.x; e < e_count; e += kThreads) sum += exp(double(lg[e]) - double(mx));
    sum = block_sum(sum, dscratch);
    for (int64_t e = threadIdx.x; e < e_count; e += kThreads) s[e] = float(exp(double(lg[e]) - double(mx)) / sum);
  }
  for (int64_t e = threadIdx.x; e < e_count; e += kThreads) {
    choice[e] = a.bias ? s[e] + a.bias[e] : s[e];
    taken[e] = false;
  }
  const int64_t per_group = a.method != 0 ? e_count / a.n_group : e_count;
  for (int64_t g = threadIdx.x; g < a.n_group; g += kThreads) group_kept[g] = true;
  __syncthreads();
  if (a.method != 0) {
    for (int64_t g = threadIdx.x; g < a.n_group; g += kThreads) {
      const float* b = choice + g * per_group;
      if (a.method == 1) {
        float mx = b[0];
        for (int64_t i = 1; i < per_group; ++i) mx = b[i] > mx ? b[i] : mx;
        group_score[g] = mx;
      } else {
        int64_t i0 = 0;
        for (int64_t i = 1; i < per_group; ++i) if (b[i] > b[i0]) i0 = i;
        int64_t i1 = i0 == 0 ? 1 : 0;
        for (int64_t i = 0; i < per_group; ++i) if (i != i0 && b[i] > b[i1]) i1 = i;
        group_score[g] = b[i0] + b[i1];
      }
      group_kept[g] = false;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      // topk_group rounds over n_group groups: small (8 x 8 for DeepSeek-V3), so one thread.
      for (int64_t j = 0; j < a.topk_group; ++j) {
        int64_t best = -1;
        for (int64_t g = 0; g < a.n_group; ++g) {
          if (group_kept[g]) continue;
          const float v = group_score[g];
          if (best < 0 || v > group_score[best] || (isnan(group_score[best]) && !isnan(v))) best = g;
        }
        group_kept[best] = true;
      }
    }
    __syncthreads();
    const float masked = a.method == 1 ? 0.0f : -INFINITY;
    for (int64_t e = threadIdx.x; e < e_count; e += kThreads)
      if (!group_kept[e / per_group]) choice[e] = masked;
    __syncthreads();
  }
  int32_t* ids = a.ids + t * a.top_k;
  float* ws = a.weights + t * a.top_k;
  for (int64_t j = 0; j < a.top_k; ++j) {
    Pick p{0.0f, -1};
    for (int64_t e = threadIdx.x; e < e_count; e += kThreads) {
      const Pick c{choice[e], int(e)};
      if (!taken[e] && better(c, p)) p = c;
    }
    p = block_arg_max(p, pscratch);
    if (threadIdx.x == 0) {
      taken[p.i] = true;
      ids[j] = p.i;
      picked_w[j] = (a.method == 0 || group_kept[p.i / per_group]) ? s[p.i] : 0.0f;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float total = 0.0f;
    for (int64_t j = 0; j < a.top_k; ++j) total += picked_w[j];
    const float denom = total + 1e-20f;
    for (int64_t j = 0; j < a.top_k; ++j) {
      float w = picked_w[j];
      if (a.norm) w /= denom;
      ws[j] = w * a.scaling;
    }
  }
}

}  // namespace

Status launch_moe_route_f32(const KernelCall& call, const GpuStep& step, GpuStream stream) {
  const TensorView& logits = call.operands[0];
  const bool has_bias = call.iparams[6] != 0;
  RouteArgs a;
  a.logits = static_cast<const float*>(logits.data);
  a.bias = has_bias ? static_cast<const float*>(call.operands[1].data) : nullptr;
  a.ids = static_cast<int32_t*>(call.operands[has_bias ? 2 : 1].data);
  a.weights = static_cast<float*>(call.operands[has_bias ? 3 : 2].data);
  a.e_count = logits.shape[1];
  a.top_k = call.iparams[0];
  a.n_group = call.iparams[1];
  a.topk_group = call.iparams[2];
  a.sigmoid = call.iparams[3] == 1;
  a.method = int(call.iparams[4]);
  a.norm = call.iparams[5] != 0;
  a.scaling = call.fparams[0];
  a.cap = logits.shape[0];
  a.step = step.d_step;
  if (a.e_count > kMaxExperts || a.top_k > 64 || a.top_k > a.e_count || (a.method != 0 && a.n_group <= 0)) {
    return Status(StatusCode::unsupported, "moe_route_f32 (GPU): " + std::to_string(a.e_count) + " experts, top_k " +
                                               std::to_string(a.top_k) + "; the GPU kernel handles up to " +
                                               std::to_string(kMaxExperts) + " experts and top_k <= 64");
  }
  if (a.cap <= 0) return Status::Ok();
  launch_kernel(moe_route_kernel, unsigned(a.cap), kThreads, 0, stream, a);
  return launch_status("moe_route_f32");
}

}  // namespace dse::gpu
