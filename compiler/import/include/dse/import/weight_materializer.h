// Produces the bytes of one weight slot from the checkpoint: streams blocks of rows, converts
// them to f32, packs them into the slot's format with the CPU packers (dse/cpu/weight_packing.h),
// in parallel over all cores, and appends them in order to a SegmentSink. Host memory stays a
// small multiple of one row block, never a whole tensor.
#pragma once

#include <cstdint>
#include <functional>

#include "dse/import/model_config.h"
#include "dse/import/safetensors.h"
#include "dse/import/segment_sink.h"
#include "dse/import/weight_recipe.h"
#include "dse/status.h"

namespace dse::importer {

// Called after each block is appended: rows appended so far and in total (rows = product of all
// but the last dim of the output shape). Return false to cancel (the call returns cancelled).
using ProgressFn = std::function<bool(int64_t rows_done, int64_t rows_total)>;

struct MaterializeStats {
  uint64_t peak_buffer_bytes = 0;  // largest sum of live row-block buffers (f32 + packed)
  int64_t blocks = 0;
  int64_t rows = 0;
  uint64_t data_bytes = 0;   // appended to `data`
  uint64_t scale_bytes = 0;  // appended to `scales`
};

// Zero-initialised options are the defaults.
struct MaterializeOptions {
  int threads = 0;                        // 0: std::thread::hardware_concurrency()
  uint64_t block_bytes = 64ull << 20;     // target f32 bytes per row block (at least one row)
  MaterializeStats* stats = nullptr;      // filled when not null
};

// Writes the slot of `recipe` in `format` to `data` and, for w8, w4 and fp8, its scales to
// `scales` (required for those formats, ignored otherwise). Byte counts equal weight_bytes() and
// scale_bytes() of recipe_shape(). Ordering: every append to `data` happens before the first
// append to `scales` (scales are kept until the data is done: 4/K of the data for w8/fp8, 4/g for
// w4, i.e. 1/32 at group 128),
// so an adapter over a writer with one open segment at a time can end the data segment when the
// scales sink gets its first bytes. Errors: those of recipe_shape, read_rows_f32 (NaN/Inf with
// the tensor name), check_weight_format, the sinks, and cancelled from `progress`.
Status materialize_weight(const SafetensorsArchive& archive, const ModelConfig& config,
                          const WeightRecipe& recipe, WeightFormat format, int group_size,
                          SegmentSink& data, SegmentSink* scales, const ProgressFn& progress = {},
                          const MaterializeOptions& options = {});

}  // namespace dse::importer
