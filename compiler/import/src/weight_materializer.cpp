// materialize_weight: row blocks -> f32 -> packed bytes, in parallel, appended in order.
#include "dse/import/weight_materializer.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dse/cpu/weight_packing.h"
#include "dse/import/rope_table.h"
#include "dse/import/tensor_reader.h"
#include "row_plan.h"

namespace dse::importer {
namespace {

// Below this many elements a block is not worth spreading over threads.
constexpr int64_t kMinElementsPerThread = 1 << 16;

// Fills rows [r0, r1) of the output (block-local buffer `f32` starts at output row `block_row`).
Status read_block_rows(const SafetensorsArchive& archive, const ModelConfig& config,
                       const RowPlan& plan, int64_t r0, int64_t r1, int64_t block_row, float* f32) {
  const int64_t K = plan.cols;
  if (plan.rope_table)
    return fill_rope_rows(config, r0, r1,
                          std::span<float>(f32 + (r0 - block_row) * K, size_t((r1 - r0) * K)));
  // Runs are sorted by out_row; find the first that ends after r0.
  auto it = std::upper_bound(plan.runs.begin(), plan.runs.end(), r0,
                             [](int64_t r, const RowRun& run) { return r < run.out_row + run.count; });
  for (; it != plan.runs.end() && it->out_row < r1; ++it) {
    const int64_t a = std::max(r0, it->out_row), b = std::min(r1, it->out_row + it->count);
    if (a >= b) continue;
    float* dst = f32 + (a - block_row) * K + it->col_offset;
    // Whole rows are contiguous; a 1-D concat run is a single partial row (count 1).
    DSE_RETURN_IF_ERROR(read_rows_f32(archive, *it->source, it->source_row + (a - it->out_row),
                                      it->source_row + (b - it->out_row),
                                      std::span<float>(dst, size_t((b - a) * it->cols)),
                                      plan.fp8_block_rows, plan.fp8_block_cols));
  }
  return Status::Ok();
}

// Packs rows [r0, r1) of the block into `data` / `scales` (both block-local).
Status pack_block_rows(WeightFormat format, int group, int64_t K, int64_t r0, int64_t r1,
                       int64_t block_row, const float* f32, std::byte* data, std::byte* scales) {
  const int64_t n = r1 - r0;
  const int64_t lr = r0 - block_row;  // local row
  std::span<const float> w(f32 + lr * K, size_t(n * K));
  switch (format) {
    case WeightFormat::f32:
      std::memcpy(data + lr * K * 4, w.data(), size_t(n * K) * 4);
      return Status::Ok();
    case WeightFormat::f16:
      return cpu::pack_f16(w, std::span<uint16_t>(reinterpret_cast<uint16_t*>(data) + lr * K, size_t(n * K)));
    case WeightFormat::bf16:
      return cpu::pack_bf16(w, std::span<uint16_t>(reinterpret_cast<uint16_t*>(data) + lr * K, size_t(n * K)));
    case WeightFormat::w8:
      return cpu::pack_w8(w, n, K, std::span<int8_t>(reinterpret_cast<int8_t*>(data) + lr * K, size_t(n * K)),
                          std::span<float>(reinterpret_cast<float*>(scales) + lr, size_t(n)));
    case WeightFormat::fp8:
      return cpu::pack_fp8(w, n, K, std::span<uint8_t>(reinterpret_cast<uint8_t*>(data) + lr * K, size_t(n * K)),
                           std::span<float>(reinterpret_cast<float*>(scales) + lr, size_t(n)));
    case WeightFormat::w4: {
      const int64_t groups = K / group;
      return cpu::pack_w4(w, n, K, group,
                          std::span<uint8_t>(reinterpret_cast<uint8_t*>(data) + lr * K / 2, size_t(n * K / 2)),
                          std::span<uint16_t>(reinterpret_cast<uint16_t*>(scales) + lr * groups,
                                              size_t(n * groups)));
    }
  }
  return Status(StatusCode::internal, "materialize_weight: unknown weight format");
}

// Runs fn(r0, r1) over [begin, end) split into `threads` contiguous ranges; returns the error of
// the lowest range that failed, so the message does not depend on thread timing.
template <typename Fn>
Status parallel_rows(int threads, int64_t begin, int64_t end, Fn&& fn) {
  const int64_t n = end - begin;
  if (threads <= 1 || n <= 1) return fn(begin, end);
  const int64_t t = std::min<int64_t>(threads, n);
  std::vector<Status> results(static_cast<size_t>(t));
  std::vector<std::thread> workers;
  workers.reserve(size_t(t - 1));
  auto range = [&](int64_t i) {
    return std::pair<int64_t, int64_t>{begin + n * i / t, begin + n * (i + 1) / t};
  };
  for (int64_t i = 1; i < t; ++i)
    workers.emplace_back([&, i] {
      auto [a, b] = range(i);
      results[size_t(i)] = fn(a, b);
    });
  {
    auto [a, b] = range(0);
    results[0] = fn(a, b);
  }
  for (auto& w : workers) w.join();
  for (Status& s : results)
    if (!s.ok()) return s;
  return Status::Ok();
}

}  // namespace

Status materialize_weight(const SafetensorsArchive& archive, const ModelConfig& config,
                          const WeightRecipe& recipe, WeightFormat format, int group_size,
                          SegmentSink& data, SegmentSink* scales, const ProgressFn& progress,
                          const MaterializeOptions& options) {
  auto planned = plan_rows(recipe, archive, config);
  if (!planned.ok()) return planned.status();
  const RowPlan& plan = planned.value();
  const std::string what = std::string("materialize_weight (") + weight_recipe_kind_name(recipe.kind) +
                           (recipe.sources.empty() ? "" : " of \"" + recipe.sources[0] + "\"") + ")";
  if (plan.rope_table && format != WeightFormat::f32)
    return Status(StatusCode::invalid_argument,
                  what + ": a rope table is stored as f32, found format " +
                      std::string(cpu::weight_format_name(format)));
  if (Status st = check_weight_format(format, plan.shape, group_size); !st.ok())
    return Status(st.code(), what + ": " + st.message());
  const bool scaled = cpu::has_scale_slot(format);
  if (scaled && !scales)
    return Status(StatusCode::invalid_argument,
                  what + ": format " + std::string(cpu::weight_format_name(format)) +
                      " has a scale slot, so a scale sink is required");

  const int64_t R = plan.rows, K = plan.cols;
  const uint64_t data_row_bytes = weight_bytes(format, std::vector<int64_t>{1, K}, group_size);
  const uint64_t scale_row_bytes = scale_bytes(format, std::vector<int64_t>{1, K}, group_size);
  int threads = options.threads > 0 ? options.threads : int(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);
  const uint64_t block_bytes = options.block_bytes ? options.block_bytes : (64ull << 20);
  const int64_t block_rows = std::clamp<int64_t>(int64_t(block_bytes / (uint64_t(K) * 4)), 1, R);

  // The only buffers: one block of f32 rows, its packed bytes, and the scales of the whole
  // weight (4/K of its packed size for w8/fp8, 4/g for w4) kept until the data is appended.
  std::vector<float> f32(static_cast<size_t>(block_rows * K));
  std::vector<std::byte> packed(static_cast<size_t>(uint64_t(block_rows) * data_row_bytes));
  std::vector<std::byte> all_scales(static_cast<size_t>(uint64_t(R) * scale_row_bytes));
  MaterializeStats stats;
  stats.peak_buffer_bytes = f32.size() * sizeof(float) + packed.size();

  for (int64_t b0 = 0; b0 < R; b0 += block_rows) {
    const int64_t b1 = std::min(R, b0 + block_rows);
    const int64_t elements = (b1 - b0) * K;
    const int t = int(std::clamp<int64_t>(elements / kMinElementsPerThread, 1, threads));
    std::byte* scale_dst = scaled ? all_scales.data() + uint64_t(b0) * scale_row_bytes : nullptr;
    Status st = parallel_rows(t, b0, b1, [&](int64_t r0, int64_t r1) -> Status {
      DSE_RETURN_IF_ERROR(read_block_rows(archive, config, plan, r0, r1, b0, f32.data()));
      // The pack step sees the block's scales as starting at row b0.
      return pack_block_rows(format, group_size, K, r0, r1, b0, f32.data(), packed.data(), scale_dst);
    });
    if (!st.ok()) {
      if (st.code() == StatusCode::invalid_argument && st.message().find("pack_") == 0)
        return Status(st.code(), what + ": " + st.message());
      return st;
    }
    DSE_RETURN_IF_ERROR(data.append(std::span<const std::byte>(packed.data(), size_t(uint64_t(b1 - b0) * data_row_bytes))));
    stats.data_bytes += uint64_t(b1 - b0) * data_row_bytes;
    stats.blocks += 1;
    stats.rows = b1;
    // Done with these source rows: let the kernel drop their pages.
    for (const RowRun& run : plan.runs) {
      const int64_t a = std::max(b0, run.out_row), b = std::min(b1, run.out_row + run.count);
      if (a < b && run.col_offset == 0)
        archive.release_rows(*run.source, run.source_row + (a - run.out_row), run.source_row + (b - run.out_row));
    }
    if (progress && !progress(b1, R))
      return Status(StatusCode::cancelled, what + ": cancelled after " + std::to_string(b1) + " of " +
                                               std::to_string(R) + " rows");
  }
  if (scaled) {
    DSE_RETURN_IF_ERROR(scales->append(all_scales));
    stats.scale_bytes = all_scales.size();
  }
  if (options.stats) *options.stats = stats;
  return Status::Ok();
}

}  // namespace dse::importer
