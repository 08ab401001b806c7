// moe_route_f32: one block per token, one thread per expert; picks by rank (see order_key).
#include "moe_route.cuh"

#include <algorithm>
#include <string>

#include "common.cuh"
#include "launch.cuh"

namespace dse::gpu {
namespace {

// One thread per expert (and per group): the block has round_up(E, 64) threads, at least 64.
constexpr int kMaxExperts = 1024;
constexpr int kMaxWarps = kMaxExperts / kLanes;
constexpr int kMaxTopK = 64;

__host__ __device__ inline int64_t round_up(int64_t a, int64_t m) { return ceil_div(a, m) * m; }

// The CPU picks experts (and groups) by repeated arg-max scans (arg_max_untaken): a number beats
// NaN, a larger value wins, and equal values (-0 == +0) and NaNs go to the lower index. That is a
// total order, so the j-th pick is the entry with exactly j entries before it in the order: every
// entry finds its own rank in one parallel pass instead of top_k rounds of block-wide arg-max,
// each of which cost three barriers and a serial scan of the per-warp winners.
//
// order_key maps values to unsigned keys in the same order (NaN lowest, at 0), so that a rank is
// a count of integer compares.
__device__ __forceinline__ uint32_t order_key(float v) {
  if (isnan(v)) return 0u;
  const uint32_t b = v == 0.0f ? 0u : __float_as_uint(v);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);  // negatives reversed below the positives
}

// Whether entry j (key kj) is picked before entry i (key k).
__device__ __forceinline__ int precedes(uint32_t kj, int j, uint32_t k, int i) { return kj > k || (kj == k && j < i); }

// How many entries of keys[0, n) are picked before entry i, where keys[n, n32) are 0 (padding
// to a multiple of 32, which never precedes a real entry) and keys is 16-byte aligned. Counting
// stops once the count reaches `limit`: an entry ranked that low is not picked.
__device__ __forceinline__ int rank_of(const uint32_t* keys, int n32, int i, int limit) {
  const uint32_t k = keys[i];
  int r = 0;
  for (int j0 = 0; j0 < n32 && r < limit; j0 += kLanes) {
#pragma unroll
    for (int j = j0; j < j0 + kLanes; j += 4) {
      const uint4 q = *reinterpret_cast<const uint4*>(keys + j);
      r += precedes(q.x, j, k, i) + precedes(q.y, j + 1, k, i);
      r += precedes(q.z, j + 2, k, i) + precedes(q.w, j + 3, k, i);
    }
  }
  return r;
}

// Group score of the CPU kernel: the group's largest choice (method 1) or the sum of its two
// largest (method 2, as topk(2).sum()).
__device__ float group_score(const float* b, int64_t per_group, int method) {
  if (method == 1) {
    float mx = b[0];
    for (int64_t i = 1; i < per_group; ++i) mx = b[i] > mx ? b[i] : mx;
    return mx;
  }
  int64_t i0 = 0;
  for (int64_t i = 1; i < per_group; ++i)
    if (b[i] > b[i0]) i0 = i;
  int64_t i1 = i0 == 0 ? 1 : 0;
  for (int64_t i = 0; i < per_group; ++i)
    if (i != i0 && b[i] > b[i1]) i1 = i;
  return b[i0] + b[i1];
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

// Block t routes token t; thread e scores expert e (and, for the grouped methods, group e).
__global__ void __launch_bounds__(kMaxExperts) moe_route_kernel(RouteArgs a) {
  __shared__ float choice[kMaxExperts];
  __shared__ uint4 key_storage[kMaxExperts / 4];  // uint4: the 16-byte alignment rank_of reads with
  uint32_t* key = reinterpret_cast<uint32_t*>(key_storage);
  __shared__ bool group_kept[kMaxExperts];
  __shared__ double dscratch[kMaxWarps];
  __shared__ float fscratch[kMaxWarps];
  __shared__ float picked_w[kMaxTopK];
  grid_dependency_sync();
  const int64_t t = blockIdx.x;
  const int e = int(threadIdx.x);
  const int n_experts = int(a.e_count);
  const bool live = e < n_experts;
  // Row t < capacity exists: its logit is loaded together with the step, not after it.
  const float lg = live ? a.logits[t * n_experts + e] : 0.0f;
  const float bias = a.bias != nullptr && live ? a.bias[e] : 0.0f;
  if (t >= step_rows(a.step, a.cap)) return;
  float s;  // the score, in double rounded to f32 as the CPU computes it
  if (a.sigmoid) {
    s = float(1.0 / (1.0 + exp(-double(lg))));
  } else {
    const float mx = block_max(live ? lg : -INFINITY, fscratch);
    const double ex = live ? exp(double(lg) - double(mx)) : 0.0;
    s = float(ex / block_sum(ex, dscratch));
  }
  float c = a.bias != nullptr ? s + bias : s;  // the value experts are chosen by
  bool kept = true;                            // in a kept group (all experts for method 0)
  if (a.method != 0) {
    const int n_group = int(a.n_group);
    const int64_t per_group = n_experts / n_group;
    if (live) choice[e] = c;
    __syncthreads();
    // Groups are ranked like experts. The block has at least round_up(n_group, 32) threads.
    const int g32 = int(round_up(n_group, kLanes));
    if (e < g32) key[e] = e < n_group ? order_key(group_score(choice + e * per_group, per_group, a.method)) : 0u;
    __syncthreads();
    const int topk_group = int(a.topk_group);
    if (e < n_group) group_kept[e] = rank_of(key, g32, e, topk_group) < topk_group;
    __syncthreads();  // also: every group rank has been read before key is reused below
    kept = live && group_kept[e / per_group];
    if (!kept) c = a.method == 1 ? 0.0f : -INFINITY;
  }
  const int n32 = int(round_up(n_experts, kLanes));
  if (e < n32) key[e] = live ? order_key(c) : 0u;
  __syncthreads();
  const int top_k = int(a.top_k);
  if (live) {
    const int r = rank_of(key, n32, e, top_k);
    if (r < top_k) {
      a.ids[t * top_k + r] = e;
      picked_w[r] = kept ? s : 0.0f;
    }
  }
  __syncthreads();
  if (e < top_k) {
    float total = 0.0f;  // in pick order, as the CPU sums
    for (int j = 0; j < top_k; ++j) total += picked_w[j];
    float w = picked_w[e];
    if (a.norm) w /= total + 1e-20f;
    a.weights[t * top_k + e] = w * a.scaling;
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
  if (a.e_count > kMaxExperts || a.top_k > kMaxTopK || a.top_k > a.e_count || (a.method != 0 && a.n_group <= 0)) {
    return Status(StatusCode::unsupported, "moe_route_f32 (GPU): " + std::to_string(a.e_count) + " experts, top_k " +
                                               std::to_string(a.top_k) + "; the GPU kernel handles up to " +
                                               std::to_string(kMaxExperts) +
                                               " experts and top_k <= " + std::to_string(kMaxTopK));
  }
  if (a.cap <= 0) return Status::Ok();
  const int64_t threads = std::max<int64_t>(2 * kLanes, round_up(a.e_count, 2 * kLanes));  // whole wave64s
  launch_kernel(moe_route_kernel, unsigned(a.cap), unsigned(threads), 0, stream, a);
  return launch_status("moe_route_f32");
}

}  // namespace dse::gpu
