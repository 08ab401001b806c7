// The GPU session backend: device regions, weights loaded once, programs resolved into GPU
// launchers on fixed device addresses, decode replayed as a graph, greedy on the device.
// One source for both vendors: written with the CUDA runtime names, which vendor_runtime.h maps
// to HIP in a DSE_ENABLE_HIP build (DSE_GPU_HIP).
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <zstd.h>

#include "dse/gpu/fusion.h"
#include "dse/gpu/kernel_registry.h"
#include "dse/gpu/workspace.h"
#include "dse/runtime/gpu_backend.h"
#include "dse/runtime/gpu_device_match.h"
#include "dse/runtime/program_validation.h"
#include "gpu_argmax.h"
#include "vendor_runtime.h"

namespace dse::runtime {

namespace {

// Host-side zstd decoding of compressed weights goes through a pinned buffer of this size, so a
// segment of any size needs only this much host memory (freed when the session is created).
constexpr uint64_t kDecodeChunkBytes = uint64_t(8) << 20;

// The small device block the kernels read the step from and write errors to; the argmax writes
// one token per row after it, so that the error record and the ids come back in one copy. The
// pinned host mirror has the same layout.
struct ControlBlock {
  StepInfo step;                       // offset 0: written (whole) before every step
  gpu::GpuErrorRecord error;           // offset sizeof(StepInfo) (552): read back after every step
  int32_t tokens[kMaxBatch] = {};      // offset 584: the device argmax, one id per logits row
};
static_assert(offsetof(ControlBlock, step) == 0, "the kernels read the step at the block's start");
static_assert(offsetof(ControlBlock, error) == sizeof(StepInfo) && offsetof(ControlBlock, error) % 8 == 0,
              "the error record follows the step, 8-byte aligned");
static_assert(offsetof(ControlBlock, tokens) == offsetof(ControlBlock, error) + sizeof(gpu::GpuErrorRecord),
              "the ids follow the error record: argmax_rows reads both in one copy");
constexpr size_t kErrorOffset = offsetof(ControlBlock, error);
// The error record and the first n ids, as one copy.
constexpr size_t error_and_tokens_bytes(uint64_t n) { return offsetof(ControlBlock, tokens) - kErrorOffset + n * 4; }
// The host mirror, rounded so that the token staging after it stays 64-byte aligned.
constexpr uint64_t kHostControlBytes = (sizeof(ControlBlock) + 63) / 64 * 64;

Status cuda_status(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  const StatusCode code = e == cudaErrorMemoryAllocation ? StatusCode::out_of_memory : StatusCode::internal;
  return Status(code, what + " failed: " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                          "); check the driver (" + gpu::kVendorSmi +
                          ") and that no other process holds the GPU");
}

// `what` is evaluated only on failure: building the message (a std::string) on every successful
// call would allocate on the host in the token loop.
#define DSE_CUDA_TRY(expr, what)                       \
  do {                                                 \
    const cudaError_t dse_cuda_e_ = (expr);            \
    if (dse_cuda_e_ != cudaSuccess) return cuda_status(dse_cuda_e_, (what)); \
  } while (0)

// One cudaMalloc, freed on destruction.
struct DeviceBuffer {
  void* ptr = nullptr;
  uint64_t bytes = 0;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr) (void)cudaFree(ptr);
  }
  uint8_t* data() const { return static_cast<uint8_t*>(ptr); }
};

Status device_alloc(DeviceBuffer& b, uint64_t bytes, const char* what, const GpuDeviceProps& dev) {
  b.bytes = bytes;
  if (bytes == 0) return Status::Ok();
  const cudaError_t e = cudaMalloc(&b.ptr, size_t(bytes));
  if (e != cudaSuccess) {
    b.ptr = nullptr;
    (void)cudaGetLastError();
    size_t free_bytes = 0, total = 0;
    (void)cudaMemGetInfo(&free_bytes, &total);
    return Status(StatusCode::out_of_memory,
                  std::string("could not allocate the ") + what + " region of " + format_bytes(bytes) + " on GPU " +
                      std::to_string(dev.ordinal) + " (" + dev.name + "): " + cudaGetErrorString(e) + ", " +
                      format_bytes(free_bytes) + " free; free device memory or recompile with a smaller "
                      "--max-seq-len or a lower --precision");
  }
  // Zeroed, as the CPU regions: a KV cache row never read before it is written, but defined.
  return cuda_status(cudaMemset(b.ptr, 0, size_t(bytes)), std::string("clearing the ") + what + " region");
}

// A GPU program: an entry point resolved once into launchers on fixed device addresses.
struct GpuProgram {
  std::string_view name;
  uint64_t max_tokens = 0;
  int32_t* d_tokens = nullptr;
  float* d_logits = nullptr;
  uint64_t logits_rows = 1;  // rows of vocab_size logits the entry writes (decode: max_batch)
  std::vector<TensorView> views;  // every operand of every call; never reallocates after resolve
  std::vector<KernelCall> calls;
  std::vector<const gpu::GpuKernelInfo*> kernels;
  std::vector<std::string_view> kernel_names;
  gpu::FusionStorage fusion;  // operands of the calls fuse_decode_calls merged
  cudaGraphExec_t graph = nullptr;  // the whole program, captured once; null: launched call by call
  bool overlapped = false;          // launched with programmatic dependent launch (decode)
  bool one_sequence = false;        // every step is one sequence's consecutive rows (prefill)
};

// Rows of the entry's logits slot ([rows, vocab] F32; [vocab] counts as one row), never more than
// the slot holds.
uint64_t logits_rows_of(const LoadedModel& model, const EntryPointInfo& entry) {
  const SlotInfo& s = model.slots()[entry.logits_slot];
  const uint64_t row_bytes = model.vocab_size() * 4;
  const uint64_t held = row_bytes > 0 ? s.size / row_bytes : 0;
  const uint64_t rows = s.rank >= 2 && s.shape[0] > 0 ? uint64_t(s.shape[0]) : 1;
  return std::max<uint64_t>(1, std::min(rows, held));
}

// With `rows` > 0 the program is cut to that many token rows: every arena operand whose leading
// dimension is the entry's token capacity (the activations) gets `rows` rows, so that launchers
// pick the kernels of a smaller step; weights and caches are untouched.
Status resolve_program(const LoadedModel& model, const EntryPointInfo& entry, std::span<void* const> addresses,
                       GpuProgram& p, uint64_t rows = 0) {
  p.name = entry.name;
  p.max_tokens = rows > 0 ? std::min<uint64_t>(rows, entry.max_tokens) : entry.max_tokens;
  p.d_tokens = static_cast<int32_t*>(addresses[entry.tokens_slot]);
  p.d_logits = static_cast<float*>(addresses[entry.logits_slot]);
  p.logits_rows = std::min<uint64_t>(logits_rows_of(model, entry), p.max_tokens);
  auto view_of = [&](uint32_t slot) {
    const SlotInfo& info = model.slots()[slot];
    TensorView v = make_view(info, addresses[slot]);
    if (p.max_tokens < entry.max_tokens && info.region == fb::RegionKind::Arena && v.rank >= 1 &&
        v.shape[0] == int64_t(entry.max_tokens)) {
      v.bytes = v.bytes / uint64_t(v.shape[0]) * p.max_tokens;
      v.shape[0] = int64_t(p.max_tokens);
    }
    return v;
  };
  size_t n_views = 0;
  for (const InstructionInfo& in : entry.instructions) n_views += in.operands.size();
  p.views.reserve(n_views);  // KernelCall::operands points into views
  p.calls.reserve(entry.instructions.size());
  p.kernels.reserve(entry.instructions.size());
  p.kernel_names.reserve(entry.instructions.size());
  for (size_t i = 0; i < entry.instructions.size(); ++i) {
    const InstructionInfo& in = entry.instructions[i];
    const gpu::GpuKernelInfo* k = gpu::find_gpu_kernel(in.kernel);
    if (k == nullptr) {
      return Status(StatusCode::unsupported, "instruction " + std::to_string(i) + " of \"" + std::string(entry.name) +
                                                 "\" calls kernel " + std::string(in.kernel) +
                                                 ", which this GPU build of libdse does not have; use a libdse "
                                                 "as new as the dsc that compiled the artifact");
    }
    const TensorView* operands = p.views.data() + p.views.size();
    for (uint32_t slot : in.operands) p.views.push_back(view_of(slot));
    p.calls.push_back(make_kernel_call(operands, in.operands.size(), in.iparams.data(), in.iparams.size(),
                                       in.fparams.data(), in.fparams.size()));
    p.kernels.push_back(k);
    p.kernel_names.push_back(in.kernel);
  }
  return Status::Ok();
}

// The control block's device region (after the scratch: gpu_workspace_bytes counts it).
constexpr uint64_t kControlBytes = gpu::kGpuControlBlockBytes;
static_assert(sizeof(ControlBlock) <= kControlBytes && kControlBytes % 256 == 0,
              "gpu::kGpuControlBlockBytes (dse/gpu/workspace.h) must hold the control block, 256-byte aligned");

class DeviceBackend final : public GpuBackend {
 public:
  ~DeviceBackend() override {
    // A failed release leaves nothing to do (HIP declares these results [[nodiscard]]).
    for (GpuProgram* p : {&prefill_, &decode_, &decode_one_}) {
      if (p->graph) (void)cudaGraphExecDestroy(p->graph);
    }
    if (stream_) (void)cudaStreamDestroy(stream_);
    if (pinned_) (void)cudaFreeHost(pinned_);
    if (registered_) (void)cudaHostUnregister(registered_);
  }

  static Result<std::unique_ptr<GpuBackend>> create(const LoadedModel& model, MemoryPlan& plan,
                                                    uint64_t memory_limit_bytes);

  bool captured_as_graph(Entry entry) const override {
    return (entry == Entry::decode ? decode_.graph : prefill_.graph) != nullptr;
  }

  uint64_t max_tokens(Entry entry) const override {
    return entry == Entry::decode ? decode_.max_tokens : prefill_.max_tokens;
  }

  uint64_t slots() const override { return slots_; }

  Status run(Entry entry, const int32_t* tokens, const StepInfo& step) override {
    // A one-row step on a --max-batch artifact replays the program cut to one row (decode_one_).
    GpuProgram& decode = step.n_tokens == 1 && decode_one_.graph ? decode_one_ : decode_;
    GpuProgram& p = entry == Entry::decode ? decode : prefill_;
    if (step.n_tokens < 1 || uint64_t(step.n_tokens) > p.max_tokens || step.slots != int64_t(slots_)) {
      return Status(StatusCode::invalid_argument,
                    "GPU step of \"" + std::string(p.name) + "\": " + std::to_string(step.n_tokens) + " tokens for " +
                        std::to_string(step.slots) + " slots; expected 1 to " + std::to_string(p.max_tokens) +
                        " tokens and the artifact's " + std::to_string(slots_) + " slots (max_batch)");
    }
    const uint64_t n_tokens = uint64_t(step.n_tokens);
    std::memcpy(h_tokens_, tokens, size_t(n_tokens) * 4);
    h_control_->step = step;
    DSE_CUDA_TRY(cudaMemcpyAsync(p.d_tokens, h_tokens_, size_t(n_tokens) * 4, cudaMemcpyHostToDevice, stream_),
                 "copying the token ids to the device");
    DSE_CUDA_TRY(cudaMemcpyAsync(&d_control_->step, &h_control_->step, sizeof(StepInfo), cudaMemcpyHostToDevice,
                                 stream_),
                 "writing the step to the device");
    DSE_RETURN_IF_ERROR(launch(p, h_control_->step));
    last_logits_ = p.d_logits;
    last_logits_rows_ = p.logits_rows;
    // Decode is checked by the argmax or logits copy that always follows it (one synchronisation
    // per token); a prefill chunk is checked now, so that a failing chunk is reported as such.
    if (entry == Entry::decode) return Status::Ok();
    DSE_CUDA_TRY(cudaMemcpyAsync(&h_control_->error, &d_control_->error, sizeof(gpu::GpuErrorRecord),
                                 cudaMemcpyDeviceToHost, stream_),
                 "reading the error record");
    return finish_step();
  }

  Result<int32_t> argmax() override {
    DSE_RETURN_IF_ERROR(argmax_rows(1, nullptr));
    return h_control_->tokens[0];
  }

  Status argmax_rows(uint64_t n_rows, int32_t* ids) override {
    DSE_RETURN_IF_ERROR(check_rows("argmax_rows", n_rows, std::min<uint64_t>(last_logits_rows_, kMaxBatch)));
    DSE_CUDA_TRY(launch_argmax_rows_f32(last_logits_, int64_t(vocab_), int64_t(n_rows), d_control_->tokens, stream_),
                 "launching the argmax kernel");
    DSE_CUDA_TRY(cudaMemcpyAsync(&h_control_->error, &d_control_->error, error_and_tokens_bytes(n_rows),
                                 cudaMemcpyDeviceToHost, stream_),
                 "reading the sampled tokens");
    DSE_RETURN_IF_ERROR(finish_step());
    if (ids) std::memcpy(ids, h_control_->tokens, size_t(n_rows) * 4);
    return Status::Ok();
  }

  Result<float*> logits_to_host(uint64_t n_rows) override {
    DSE_RETURN_IF_ERROR(check_rows("logits_to_host", n_rows, std::min(last_logits_rows_, host_logits_rows_)));
    DSE_CUDA_TRY(cudaMemcpyAsync(h_logits_, last_logits_, size_t(n_rows * vocab_) * 4, cudaMemcpyDeviceToHost, stream_),
                 "copying the logits to the host");
    DSE_CUDA_TRY(cudaMemcpyAsync(&h_control_->error, &d_control_->error, sizeof(gpu::GpuErrorRecord),
                                 cudaMemcpyDeviceToHost, stream_),
                 "reading the error record");
    DSE_RETURN_IF_ERROR(finish_step());
    return h_logits_;
  }

 private:
  DeviceBackend() = default;

  // `n_rows` rows of the last run's logits: 1 .. `limit`, else invalid_argument (no allocation
  // unless it fails).
  Status check_rows(const char* what, uint64_t n_rows, uint64_t limit) const {
    if (n_rows >= 1 && n_rows <= limit) return Status::Ok();
    return Status(StatusCode::invalid_argument, std::string(what) + ": " + std::to_string(n_rows) +
                                                    " rows asked for, the last run's logits have " +
                                                    std::to_string(limit) + "; pass 1 to that many");
  }

  // Enqueues a whole program: the captured graph, or every launcher in order.
  Status launch(GpuProgram& p, const StepInfo& host_step) {
    if (p.graph) {
      DSE_CUDA_TRY(cudaGraphLaunch(p.graph, stream_), "replaying the " + std::string(p.name) + " graph");
      return Status::Ok();
    }
    return enqueue_calls(p, &host_step);
  }

  // `host_step` (null while capturing) only names the step in an error message.
  Status enqueue_calls(GpuProgram& p, const StepInfo* host_step) {
    std::optional<gpu::OverlappedLaunches> overlap;
    if (p.overlapped) overlap.emplace();
    gpu::GpuStep step;
    step.d_step = &d_control_->step;
    step.d_error = &d_control_->error;
    step.workspace = workspace_.ptr;
    step.workspace_bytes = workspace_bytes_;
    step.slots = int64_t(slots_);
    step.one_sequence = p.one_sequence;
    for (size_t i = 0; i < p.calls.size(); ++i) {
      Status st = p.kernels[i]->launch(p.calls[i], step, stream_);
      if (!st.ok()) {
        std::string where = "kernel " + std::string(p.kernel_names[i]) + " (instruction " + std::to_string(i) + " of \"" +
                            std::string(p.name) + "\"";
        if (host_step && host_step->batched) {
          where += ", " + std::to_string(host_step->n_tokens) + " batched sequences";
        } else if (host_step) {
          where += ", " + std::to_string(host_step->n_tokens) + " tokens at position " +
                   std::to_string(host_step->start_pos) + " of slot " + std::to_string(host_step->slot);
        }
        return Status(st.code(), where + ") failed on the GPU: " + st.message());
      }
    }
    return Status::Ok();
  }

  // Captures `p` once as a graph. A program that cannot be captured still runs, call by call.
  Status capture(GpuProgram& p) {
    DSE_CUDA_TRY(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "starting graph capture");
    Status enqueued = enqueue_calls(p, nullptr);
    cudaGraph_t graph = nullptr;
    const cudaError_t ended = cudaStreamEndCapture(stream_, &graph);
    if (!enqueued.ok()) {
      // A launcher that cannot be captured is run call by call; a static problem with the call
      // itself is then reported, with the kernel's name, by the first run.
      if (graph) (void)cudaGraphDestroy(graph);
      (void)cudaGetLastError();
      return Status::Ok();
    }
    if (ended != cudaSuccess || graph == nullptr) {
      (void)cudaGetLastError();
      return Status::Ok();  // launched call by call
    }
    const cudaError_t inst = cudaGraphInstantiate(&p.graph, graph, 0);
    (void)cudaGraphDestroy(graph);
    if (inst != cudaSuccess) {
      (void)cudaGetLastError();
      p.graph = nullptr;
    } else {
      // The work the first launch would do (uploading the graph) happens here, not in a step.
      (void)cudaGraphUpload(p.graph, stream_);
      (void)cudaGetLastError();
    }
    return Status::Ok();
  }

  // Waits for the stream, then turns a recorded run-time error into a Status and clears it.
  Status finish_step() {
    DSE_CUDA_TRY(cudaStreamSynchronize(stream_), "running the step on the GPU");
    if (h_control_->error.code == 0) return Status::Ok();
    const Status st = gpu::gpu_error_status(h_control_->error);
    h_control_->error = gpu::GpuErrorRecord{};
    DSE_CUDA_TRY(cudaMemsetAsync(&d_control_->error, 0, sizeof(gpu::GpuErrorRecord), stream_), "clearing the error record");
    DSE_CUDA_TRY(cudaStreamSynchronize(stream_), "clearing the error record");
    return st;
  }

  Status load_weights(const LoadedModel& model, const GpuDeviceProps& dev, MemoryPlan& plan,
                      std::vector<void*>& addresses);

  uint64_t vocab_ = 0;
  uint64_t slots_ = 1;             // the artifact's max_batch
  uint64_t host_logits_rows_ = 1;  // rows h_logits_ holds (the most any entry writes)
  cudaStream_t stream_ = nullptr;
  DeviceBuffer weights_, kv_cache_, arena_, workspace_, control_;
  uint64_t workspace_bytes_ = 0;
  ControlBlock* d_control_ = nullptr;
  void* pinned_ = nullptr;           // one cudaMallocHost: control mirror, token staging, logits
  ControlBlock* h_control_ = nullptr;
  int32_t* h_tokens_ = nullptr;
  float* h_logits_ = nullptr;
  void* registered_ = nullptr;       // integrated GPU: the file mapping, cudaHostRegister'ed
  const float* last_logits_ = nullptr;
  uint64_t last_logits_rows_ = 1;
  GpuProgram prefill_, decode_;
  // The decode program cut to one row, when the artifact's decode step has more (--max-batch):
  // what a step of one sequence replays. Unused (no graph) otherwise.
  GpuProgram decode_one_;
};

Result<GpuDeviceProps> query_device() {
  int ordinal = 0;
  DSE_CUDA_TRY(cudaGetDevice(&ordinal), std::string("finding a ") + gpu::kVendorApi + " device");
  cudaDeviceProp prop;
  DSE_CUDA_TRY(cudaGetDeviceProperties(&prop, ordinal),
               std::string("reading the properties of ") + gpu::kVendorApi + " device " + std::to_string(ordinal));
  GpuDeviceProps d;
#if defined(DSE_GPU_HIP)
  // The architecture of an AMD GPU is its gcnArchName ("gfx90a:sramecc+:xnack-"), not major.minor.
  d.backend = targets::Backend::hip;
  d.arch_name = prop.gcnArchName;
#else
  d.backend = targets::Backend::cuda;
#endif
  d.name = prop.name;
  d.ordinal = ordinal;
  d.major = prop.major;
  d.minor = prop.minor;
  d.integrated = prop.integrated != 0;
  d.pageable_memory_access = prop.pageableMemoryAccess != 0;
  d.total_memory_bytes = prop.totalGlobalMem;
  return d;
}

// Decodes a zstd segment on the host in bounded chunks (through `chunk`, pinned) and copies
// each chunk to `dst` on the device.
Status stream_zstd_to_device(const LoadedModel& model, size_t seg, uint8_t* dst, uint64_t raw_size, uint8_t* chunk,
                             cudaStream_t stream) {
  DSE_RETURN_IF_ERROR(model.reader().verify_segment(seg));
  Result<std::span<const std::byte>> stored = model.reader().segment_bytes(seg);
  if (!stored.ok()) return stored.status();
  ZSTD_DStream* z = ZSTD_createDStream();
  if (z == nullptr) return Status(StatusCode::out_of_memory, "could not create a zstd decoder");
  ZSTD_inBuffer in{stored->data(), stored->size(), 0};
  uint64_t written = 0;
  Status st = Status::Ok();
  while (st.ok()) {
    ZSTD_outBuffer out{chunk, size_t(kDecodeChunkBytes), 0};
    const size_t r = ZSTD_decompressStream(z, &out, &in);
    if (ZSTD_isError(r)) {
      st = Status(StatusCode::corrupt_data, "segment " + std::to_string(seg) + " of " + model.reader().path().string() +
                                                " does not decode as zstd (" + ZSTD_getErrorName(r) +
                                                "); the artifact is damaged: recompile it with dsc");
      break;
    }
    if (written + out.pos > raw_size) {
      st = Status(StatusCode::corrupt_data, "segment " + std::to_string(seg) + " decodes to more than its " +
                                                std::to_string(raw_size) + " bytes; recompile the model with dsc");
      break;
    }
    if (out.pos > 0) {
      st = cuda_status(cudaMemcpyAsync(dst + written, chunk, out.pos, cudaMemcpyHostToDevice, stream),
                       "copying decoded weights to the device");
      if (st.ok()) st = cuda_status(cudaStreamSynchronize(stream), "copying decoded weights to the device");
      written += out.pos;
    }
    if (r == 0 && in.pos == in.size) break;
    if (in.pos == in.size && out.pos == 0) {
      st = Status(StatusCode::corrupt_data, "segment " + std::to_string(seg) + " ends in the middle of a zstd frame; "
                                                "the artifact is damaged: recompile it with dsc");
    }
  }
  ZSTD_freeDStream(z);
  if (st.ok() && written != raw_size) {
    st = Status(StatusCode::corrupt_data, "segment " + std::to_string(seg) + " decodes to " + std::to_string(written) +
                                              " bytes, expected " + std::to_string(raw_size) + "; recompile the model with dsc");
  }
  return st;
}

Status DeviceBackend::load_weights(const LoadedModel& model, const GpuDeviceProps& dev, MemoryPlan& plan,
                                 std::vector<void*>& addresses) {
  const std::vector<SlotInfo>& slots = model.slots();
  const RegionInfo& wr = model.region(fb::RegionKind::Weights);
  const auto& segments = model.reader().segments();

  // Integrated GPU (Jetson): device memory is system memory, so uncompressed weights are read
  // in place from the file mapping instead of being copied (the copy would double the weights'
  // footprint in the one shared memory). The GPU reads them through a mapped pointer: directly
  // where it can read pageable memory, else after cudaHostRegister of the mapping (read-only).
  const std::byte* file_base = model.reader().file_bytes().data();
  uint8_t* device_file_base = nullptr;
  if (dev.integrated) {
    if (dev.pageable_memory_access) {
      device_file_base = reinterpret_cast<uint8_t*>(const_cast<std::byte*>(file_base));
    } else {
      void* base = const_cast<std::byte*>(file_base);
      const size_t bytes = model.reader().file_bytes().size();
      if (cudaHostRegister(base, bytes, cudaHostRegisterMapped | cudaHostRegisterReadOnly) == cudaSuccess) {
        registered_ = base;
        void* dptr = nullptr;
        if (cudaHostGetDevicePointer(&dptr, base, 0) == cudaSuccess) device_file_base = static_cast<uint8_t*>(dptr);
      }
      (void)cudaGetLastError();  // a refused registration falls back to copying
    }
  }

  // The plan for what is used in place, and the device region for the rest: discrete GPUs copy
  // the whole weights region (slots at their planned offsets); an integrated one packs only the
  // compressed segments (those must be decoded somewhere).
  if (device_file_base) {
    DSE_RETURN_IF_ERROR(plan_integrated_gpu_weights(model, plan));
  } else {
    plan.gpu_integrated = dev.integrated;
    plan.weights_mapped_bytes = 0;
    plan.weights_resident_bytes = wr.size;
  }
  DSE_RETURN_IF_ERROR(device_alloc(weights_, plan.weights_resident_bytes, "weights", dev));

  bool need_chunk = false;
  for (const SlotInfo& s : slots) {
    if (s.region == fb::RegionKind::Weights && segments[size_t(s.segment)].codec != fb::Codec::None) need_chunk = true;
  }
  void* chunk = nullptr;
  if (need_chunk) DSE_CUDA_TRY(cudaMallocHost(&chunk, size_t(kDecodeChunkBytes)), "allocating the weight decoding buffer");
  struct FreeHost {
    void* p;
    ~FreeHost() {
      if (p) (void)cudaFreeHost(p);
    }
  } free_chunk{chunk};

  std::map<std::pair<int64_t, uint64_t>, uint8_t*> loaded;  // (segment, offset) -> device bytes
  std::map<int64_t, uint8_t*> packed;                         // integrated: segment -> device bytes
  uint64_t packed_used = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const SlotInfo& s = slots[i];
    if (s.region != fb::RegionKind::Weights) continue;
    const size_t seg = size_t(s.segment);
    const bool compressed = segments[seg].codec != fb::Codec::None;
    if (device_file_base && !compressed) {
      Result<std::span<const std::byte>> bytes = model.reader().segment_bytes(seg);
      if (!bytes.ok()) return bytes.status();
      addresses[i] = device_file_base + (bytes->data() - file_base);
      continue;
    }
    uint8_t* dst = nullptr;
    if (device_file_base) {
      if (auto it = packed.find(s.segment); it != packed.end()) {
        addresses[i] = it->second;
        continue;
      }
      dst = weights_.data() + packed_used;
      packed_used += (s.size + wr.alignment - 1) / wr.alignment * wr.alignment;
      packed.emplace(s.segment, dst);
    } else {
      if (auto it = loaded.find({s.segment, s.offset}); it != loaded.end()) {
        addresses[i] = it->second;
        continue;
      }
      dst = weights_.data() + s.offset;
      loaded.emplace(std::make_pair(s.segment, s.offset), dst);
    }
    if (compressed) {
      DSE_RETURN_IF_ERROR(stream_zstd_to_device(model, seg, dst, s.size, static_cast<uint8_t*>(chunk), stream_));
    } else {
      Result<std::span<const std::byte>> bytes = model.reader().segment_bytes(seg);
      if (!bytes.ok()) return bytes.status();
      DSE_CUDA_TRY(cudaMemcpy(dst, bytes->data(), size_t(s.size), cudaMemcpyHostToDevice),
                   "copying weight segment " + std::to_string(seg) + " to the device");
    }
    addresses[i] = dst;
  }
  return Status::Ok();
}

Result<std::unique_ptr<GpuBackend>> DeviceBackend::create(const LoadedModel& model, MemoryPlan& plan,
                                                        uint64_t memory_limit_bytes) {
  Result<GpuDeviceProps> dev = query_device();
  if (!dev.ok()) return dev.status();
  const fb::TargetInfo* target = model.artifact().target();
  std::vector<std::string> required;
  if (target && target->required_features()) {
    for (const auto* f : *target->required_features()) required.push_back(f->str());
  }
  Result<const targets::TargetDesc*> matched = match_gpu_device(*dev, model.strings().target, required);
  if (!matched.ok()) return matched.status();
  if (cudaError_t e = argmax_kernel_runs_here(); e != cudaSuccess) {
    (void)cudaGetLastError();
    // The value to add to the architectures: CMake writes sm_90a as "90a", AMD targets as named.
    const std::string arch = dev->backend == targets::Backend::hip
                                 ? device_target_name(*dev)
                                 : std::to_string(dev->major * 10 + dev->minor) + (dev->major == 9 ? "a" : "");
    return Status(StatusCode::target_mismatch,
                  "this build of libdse has no GPU code for " + device_target_name(*dev) + " (" + dev->name +
                      "): " + cudaGetErrorString(e) + "; rebuild it with " + gpu::kArchitecturesVariable +
                      " including " + arch);
  }

  std::unique_ptr<DeviceBackend> b(new DeviceBackend());
  b->vocab_ = model.vocab_size();
  b->slots_ = model.max_batch();  // 1 to kMaxBatch (LoadedModel checked it)
  DSE_CUDA_TRY(cudaStreamCreateWithFlags(&b->stream_, cudaStreamNonBlocking),
               std::string("creating a ") + gpu::kVendorApi + " stream");

  // Device memory up front, with the numbers, before anything is taken. An integrated GPU uses
  // less (weights in place); the plan is revised once the mapping is known.
  size_t free_bytes = 0, total_bytes = 0;
  DSE_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes), "reading the free device memory");
  const uint64_t need = plan.device_bytes();
  if (!dev->integrated && need > free_bytes) {
    return Status(StatusCode::out_of_memory,
                  "the session needs " + format_bytes(need) + " of device memory but GPU " +
                      std::to_string(dev->ordinal) + " (" + dev->name + ") has " + format_bytes(free_bytes) +
                      " free: weights " + format_bytes(plan.weights_resident_bytes) + ", KV cache " +
                      format_bytes(plan.kv_cache_bytes) + ", activation arena " + format_bytes(plan.arena_bytes) +
                      ", workspace " + format_bytes(plan.gpu_workspace_bytes) +
                      "; recompile with --precision int4 or a smaller --max-seq-len");
  }

  const RegionInfo& kr = model.region(fb::RegionKind::KvCache);
  const RegionInfo& ar = model.region(fb::RegionKind::Arena);
  DSE_RETURN_IF_ERROR(device_alloc(b->kv_cache_, kr.size, "KV cache", *dev));
  DSE_RETURN_IF_ERROR(device_alloc(b->arena_, ar.size, "activation arena", *dev));
  b->workspace_bytes_ = plan.gpu_workspace_bytes > kControlBytes ? plan.gpu_workspace_bytes - kControlBytes : 0;
  DSE_RETURN_IF_ERROR(device_alloc(b->workspace_, b->workspace_bytes_, "kernel workspace", *dev));
  DSE_RETURN_IF_ERROR(device_alloc(b->control_, kControlBytes, "step and error block", *dev));
  b->d_control_ = static_cast<ControlBlock*>(b->control_.ptr);

  // Pinned host memory: the control mirror, token staging for the largest entry, the logits of
  // the entry with the most rows (decode: one row per sequence). Nothing is allocated later.
  const uint64_t max_tokens = std::max(model.prefill().max_tokens, model.decode().max_tokens);
  const uint64_t tokens_bytes = (max_tokens * 4 + 63) / 64 * 64;
  b->host_logits_rows_ = std::max(logits_rows_of(model, model.prefill()), logits_rows_of(model, model.decode()));
  const uint64_t pinned_bytes = kHostControlBytes + tokens_bytes + b->host_logits_rows_ * b->vocab_ * 4;
  DSE_CUDA_TRY(cudaMallocHost(&b->pinned_, size_t(pinned_bytes)), "allocating pinned host buffers");
  b->h_control_ = new (b->pinned_) ControlBlock();
  b->h_tokens_ = reinterpret_cast<int32_t*>(static_cast<uint8_t*>(b->pinned_) + kHostControlBytes);
  b->h_logits_ = reinterpret_cast<float*>(static_cast<uint8_t*>(b->pinned_) + kHostControlBytes + tokens_bytes);

  // Slot addresses: weights (copied, or in place on an integrated GPU), then KV cache and arena
  // at their planned offsets.
  const std::vector<SlotInfo>& slots = model.slots();
  std::vector<void*> addresses(slots.size(), nullptr);
  DSE_RETURN_IF_ERROR(b->load_weights(model, *dev, plan, addresses));
  DSE_RETURN_IF_ERROR(check_memory_limit(plan, memory_limit_bytes));
  for (size_t i = 0; i < slots.size(); ++i) {
    if (slots[i].region == fb::RegionKind::KvCache) addresses[i] = b->kv_cache_.data() + slots[i].offset;
    if (slots[i].region == fb::RegionKind::Arena) addresses[i] = b->arena_.data() + slots[i].offset;
  }
  DSE_RETURN_IF_ERROR(resolve_program(model, model.prefill(), addresses, b->prefill_));
  DSE_RETURN_IF_ERROR(resolve_program(model, model.decode(), addresses, b->decode_));
  // Fewer launches per decode step (norms, q/k/v, residual adds, rope + kv_store merged); same
  // results. DSE_GPU_FUSION (fusion.h) selects them for measuring. Then the launch mode.
  const char* fusion_env = std::getenv("DSE_GPU_FUSION");
  const gpu::FusionOptions fusion = fusion_env ? gpu::parse_fusion_options(fusion_env) : gpu::FusionOptions{};
  auto prepare_decode = [&](GpuProgram& p) {
    gpu::fuse_decode_calls({&p.calls, &p.kernels, &p.kernel_names}, p.fusion, fusion);
    // Decode steps launch with programmatic dependent launch (gpu_launch.h; DSE_GPU_PDL=0 turns
    // it off). Measured on an H200: 1.5B int4 602 -> 639 tok/s; DeepSeek-V2-Lite first lost (234
    // -> 213 with the one-warp-per-key MLA and f32 MoE kernels), then gained once those changed
    // (354 -> 385). Prefill programs launch plainly (12% slower with it, 1.5B).
    p.overlapped = true;
  };
  prepare_decode(b->decode_);
  gpu::fuse_prefill_calls({&b->prefill_.calls, &b->prefill_.kernels, &b->prefill_.kernel_names}, b->prefill_.fusion,
                          fusion);
  b->last_logits_ = b->decode_.d_logits;
  b->last_logits_rows_ = b->decode_.logits_rows;

  b->prefill_.one_sequence = true;  // generate_batch also prefills each prompt alone
  // Both programs are captured once; the decode graph is what every token replays.
  DSE_RETURN_IF_ERROR(b->capture(b->decode_));
  DSE_RETURN_IF_ERROR(b->capture(b->prefill_));
  // A --max-batch artifact: one sequence's steps (plain generate, or a batch of one) replay the
  // decode program cut to one row, which takes the one-row GEMVs and the decode fusions; through
  // the N-row program a 1.5B int4 artifact of --max-batch 16 decoded one sequence at 141 tok/s
  // against 581 for --max-batch 1 (H200, session 3). Without a graph it is not used.
  if (model.decode().max_tokens > 1) {
    DSE_RETURN_IF_ERROR(resolve_program(model, model.decode(), addresses, b->decode_one_, 1));
    prepare_decode(b->decode_one_);
    DSE_RETURN_IF_ERROR(b->capture(b->decode_one_));
  }
  // Every graph and the argmax kernel once, at creation: the first launch of a kernel (module
  // loading, which is lazy by default since CUDA 12) must not happen in the token loop, which
  // allocates nothing. The graphs run an empty step (n_tokens 0: every kernel exits without
  // writing; last_row reports the empty step, and that record is cleared).
  b->h_control_->step = StepInfo{};
  b->h_control_->step.slots = int64_t(b->slots_);
  DSE_CUDA_TRY(cudaMemcpyAsync(&b->d_control_->step, &b->h_control_->step, sizeof(StepInfo), cudaMemcpyHostToDevice,
                               b->stream_),
               "writing the step to the device");
  for (GpuProgram* p : {&b->decode_, &b->prefill_, &b->decode_one_}) {
    if (p->graph) DSE_CUDA_TRY(cudaGraphLaunch(p->graph, b->stream_), "warming up the " + std::string(p->name) + " graph");
  }
  DSE_CUDA_TRY(launch_argmax_rows_f32(b->decode_.d_logits, int64_t(b->vocab_),
                                      int64_t(std::min<uint64_t>(b->decode_.logits_rows, kMaxBatch)),
                                      b->d_control_->tokens, b->stream_),
               "launching the argmax kernel");
  DSE_CUDA_TRY(cudaMemsetAsync(&b->d_control_->error, 0, sizeof(gpu::GpuErrorRecord), b->stream_),
               "clearing the error record");
  DSE_CUDA_TRY(cudaStreamSynchronize(b->stream_), "finishing session setup on the GPU");
  return std::unique_ptr<GpuBackend>(std::move(b));
}

}  // namespace

bool gpu_backend_built() { return true; }

#if defined(DSE_GPU_HIP)
targets::Backend gpu_backend_kind() { return targets::Backend::hip; }
#else
targets::Backend gpu_backend_kind() { return targets::Backend::cuda; }
#endif

Result<std::unique_ptr<GpuBackend>> create_gpu_backend(const LoadedModel& model, MemoryPlan& plan,
                                                       uint64_t memory_limit_bytes) {
  return DeviceBackend::create(model, plan, memory_limit_bytes);
}

}  // namespace dse::runtime
