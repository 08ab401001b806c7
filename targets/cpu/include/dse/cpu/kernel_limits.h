// Upper bounds of the CPU kernels' fixed-size stack buffers; validate_cpu_call enforces them.
#pragma once

#include <cstdint>

namespace dse::cpu {

// The CPU kernels never allocate: per-head and per-token scratch lives in stack arrays of these
// sizes. The largest released DeepSeek / Llama / Qwen2 models use about half of each bound
// (head_dim 128, dq 192, kv_lora_rank 512, 256 experts, top-8, 8 x 2048 routed intermediate).
inline constexpr int64_t kMaxHeadDim = 512;         // attention head_dim, v_head_dim; MLA dn, dr, dv
inline constexpr int64_t kMaxLatentRank = 2048;     // MLA kv_lora_rank C
inline constexpr int64_t kMaxExperts = 1024;        // moe_route / moe_ffn n_experts
inline constexpr int64_t kMaxTopK = 32;             // experts per token
inline constexpr int64_t kMaxMoeScratch = 32768;    // moe_ffn top_k * intermediate (f32 values, 128 KiB
                                                    // on the calling thread's stack)
inline constexpr int64_t kMaxHeads = 4096;          // attention heads
inline constexpr int64_t kMaxDim = int64_t(1) << 40;  // any single tensor dimension

}  // namespace dse::cpu
