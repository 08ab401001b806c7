// Where materialized weight bytes go: a small append-only interface that the compiler adapts
// to the artifact writer's streaming segment API (begin_segment / append / end_segment).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "dse/status.h"

namespace dse::importer {

class SegmentSink {
 public:
  virtual ~SegmentSink() = default;
  // Appends `bytes` (borrowed for the call only). A non-ok Status stops the materialization and
  // is returned to its caller unchanged.
  virtual Status append(std::span<const std::byte> bytes) = 0;
};

// Collects everything in memory: for tests, for small tensors and for scale slots.
class VectorSink final : public SegmentSink {
 public:
  Status append(std::span<const std::byte> bytes) override {
    data.insert(data.end(), bytes.begin(), bytes.end());
    return Status::Ok();
  }
  std::vector<std::byte> data;
};

}  // namespace dse::importer
