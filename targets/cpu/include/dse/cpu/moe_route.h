// moe_route_f32: DeepSeekMoE expert selection and weights, as Hugging Face transformers computes
// them (DeepseekV2TopkRouter, DeepseekV3TopkRouter; docs/reference/ARCHITECTURES.md §3.3).
#pragma once

#include "dse/cpu/thread_pool.h"
#include "dse/targets/kernel_abi.h"

namespace dse::cpu {

// Operands: logits F32 [T, E], bias F32 [E] (present when has_bias = 1), ids I32 [T, k],
// weights F32 [T, k].
// iparams: top_k, n_group, topk_group, scoring (0 softmax, 1 sigmoid),
//          method (0 greedy, 1 group_limited_greedy, 2 noaux_tc), norm_topk_prob, has_bias.
// fparams: routed_scaling_factor.
//
// Per token, with s = softmax(logits) or sigmoid(logits) (computed in double, rounded to f32) and
// b = s + bias (f32 add; b = s without a bias):
//   greedy:               the top_k largest b.
//   group_limited_greedy: group score = max of b in each of n_group equal groups; the topk_group
//                         best groups are kept; b of the other experts is replaced by 0.0 (as
//                         HF's DeepseekV2TopkRouter does); the top_k largest of that.
//   noaux_tc:             group score = sum of the 2 largest b in the group; other groups are
//                         masked with -inf (as HF's DeepseekV3TopkRouter does); the top_k largest.
//   weight = s of the chosen expert (0.0 for an expert of a masked group under
//            group_limited_greedy, which HF's masked gather gives); never the bias.
//   norm_topk_prob: weight /= (sum of the k weights + 1e-20). HF's DeepseekV2 ignores its
//            config's norm_topk_prob: the compiler passes 0 for V2 to match it.
//   weight *= routed_scaling_factor (always, as in both HF classes).
// Output order: by decreasing b, ties to the lower expert id (HF uses sorted=False, whose order is
// unspecified; only the selected set and weights are compared with HF).
// Bounds: E <= kMaxExperts, top_k <= kMaxTopK.
Status moe_route_f32(const KernelCall& call, const StepInfo& step, ThreadPool* pool);

}  // namespace dse::cpu
