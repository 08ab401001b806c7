// Internal: a weight recipe resolved against the checkpoint into runs of output rows, each run
// a contiguous range of rows of one source tensor. Shared by recipe_shape and the materializer.
#pragma once

#include <cstdint>
#include <vector>

#include "dse/import/model_config.h"
#include "dse/import/safetensors.h"
#include "dse/import/weight_recipe.h"
#include "dse/status.h"

namespace dse::importer {

struct RowRun {
  const TensorInfo* source = nullptr;
  int64_t source_row = 0;  // first row of `source` (in its rows() x cols() view)
  int64_t out_row = 0;     // first output row
  int64_t count = 0;       // rows
  int64_t col_offset = 0;  // where the source row starts in the output row (1-D concats only)
  int64_t cols = 0;        // floats per source row
};

struct RowPlan {
  std::vector<int64_t> shape;  // output shape
  int64_t rows = 0;            // product of all but the last dim (1 for rank 0 and 1)
  int64_t cols = 0;            // last dim
  std::vector<RowRun> runs;    // sorted by out_row; cover every output row exactly once
  bool rope_table = false;     // rows are computed by fill_rope_rows, runs is empty
  int64_t fp8_block_rows = 128;
  int64_t fp8_block_cols = 128;
};

Result<RowPlan> plan_rows(const WeightRecipe& recipe, const SafetensorsArchive& archive,
                          const ModelConfig& config);

}  // namespace dse::importer
