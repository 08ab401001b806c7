// Host-side Status values of the GPU backend: launch failures and run-time error records.
#include <string>

#include "common.cuh"

namespace dse::gpu {

Status launch_status(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return Status::Ok();
  return Status(StatusCode::internal, std::string(kernel) + ": the kernel launch failed (" + cudaGetErrorString(e) +
                                          "); expected a successful launch on a device with this build's "
                                          "architecture: check the driver and that the artifact's target "
                                          "matches the GPU");
}

namespace {
std::string position_message(const char* kernel, const GpuErrorRecord& r, const char* what) {
  return std::string(kernel) + ": position " + std::to_string(r.value) + " is outside the " + what + " of " +
         std::to_string(r.limit) +
         " positions; the sequence is longer than the context the artifact was compiled for: start a new "
         "sequence or recompile with a larger --max-seq-len";
}

// The kernel named in the CPU twin's messages for a position-checking op; null for other ops.
const char* position_kernel(GpuOp op) {
  switch (op) {
    case GpuOp::rope: return "rope_f32";
    case GpuOp::kv_store: return "kv_store";
    case GpuOp::attention: return "attention_f32";
    case GpuOp::mla_attention: return "mla_attention_f32";
    default: return nullptr;
  }
}
}  // namespace

Status gpu_error_status(const GpuErrorRecord& r) {
  if (r.code == 0) return Status::Ok();
  const StatusCode code = StatusCode(r.code);
  if ((r.op & kSlotErrorFlag) != 0) {
    // common.cuh record_position_error: value = the slot, limit = the slots (max_batch).
    if (const char* kernel = position_kernel(GpuOp(r.op & ~kSlotErrorFlag))) {
      return Status(code, std::string(kernel) + ": row " + std::to_string(r.row) + " names cache slot " +
                              std::to_string(r.value) + ", outside the " + std::to_string(r.limit) +
                              " slots (--max-batch) of this artifact");
    }
  }
  switch (GpuOp(r.op)) {
    case GpuOp::embed:
      return Status(code, "embed_f32: token id " + std::to_string(r.value) + " at row " + std::to_string(r.row) +
                              " is outside the vocabulary [0, " + std::to_string(r.limit) +
                              "); check the tokenizer and the prompt's token ids");
    case GpuOp::rope: return Status(code, position_message("rope_f32", r, "rope table"));
    case GpuOp::kv_store: return Status(code, position_message("kv_store", r, "KV cache"));
    case GpuOp::attention: return Status(code, position_message("attention_f32", r, "KV cache"));
    case GpuOp::mla_attention: return Status(code, position_message("mla_attention_f32", r, "latent cache"));
    case GpuOp::moe_ffn:
      if (code == StatusCode::invalid_argument)  // moe_gemm.cu's sort: value expert, row its entries
        return Status(code, "moe_ffn_f32: expert " + std::to_string(r.value) + " is selected " + std::to_string(r.row) +
                                " times in a chunk of " + std::to_string(r.limit) +
                                " tokens; each token's expert ids must be distinct, as moe_route_f32 makes them");
      return Status(code, "moe_ffn_f32: expert id " + std::to_string(r.value) + " (token " +
                              std::to_string(r.row) + ") is outside [0, " + std::to_string(r.limit) +
                              "); the ids operand must come from moe_route_f32 with the same n_experts");
    case GpuOp::last_row:
      return Status(code, "last_row_f32: the call has no tokens (n_tokens = " + std::to_string(r.value) +
                              "), so there is no last row to copy; pass at least one token");
    case GpuOp::none: break;
  }
  return Status(code, "a GPU kernel reported error code " + std::to_string(r.code) + " from unknown op " +
                          std::to_string(r.op) + "; the error record was probably not cleared before the step");
}

}  // namespace dse::gpu
