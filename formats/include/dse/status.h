// dse::Status and dse::Result<T>: error values with a human message, used by formats, targets
// and the runtime. No exceptions cross library boundaries and library code never aborts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace dse {

// Grouped by kind, like ExecuTorch's Error: the number tells a program what to do, the message
// tells a person why. Values are stable: they are also the C API's dse_status codes.
enum class StatusCode : int32_t {
  ok = 0,
  // Caller errors.
  invalid_argument = 1,
  out_of_range = 2,        // e.g. a prompt longer than the planned context
  cancelled = 3,           // the caller asked to stop
  // Input data errors.
  not_found = 10,          // a file or a named entry is missing
  io_error = 11,           // read/write/mmap failed
  corrupt_data = 12,       // checksum, truncation, verification failure
  unsupported = 13,        // valid but not handled by this build (newer version, unknown kernel)
  target_mismatch = 14,    // artifact compiled for another device
  // Resource errors.
  out_of_memory = 20,
  // Bugs.
  internal = 30,
};

const char* status_code_name(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::ok; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

// Either a value or a non-ok Status. Accessing value() of an error is a programming bug; it is
// checked in debug builds only, as std::optional does.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                    // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}            // NOLINT: implicit by design
  Result(StatusCode code, std::string message) : status_(code, std::move(message)) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

inline const char* status_code_name(StatusCode code) {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid argument";
    case StatusCode::out_of_range: return "out of range";
    case StatusCode::cancelled: return "cancelled";
    case StatusCode::not_found: return "not found";
    case StatusCode::io_error: return "I/O error";
    case StatusCode::corrupt_data: return "corrupt data";
    case StatusCode::unsupported: return "unsupported";
    case StatusCode::target_mismatch: return "target mismatch";
    case StatusCode::out_of_memory: return "out of memory";
    case StatusCode::internal: return "internal error";
  }
  return "unknown status";
}

}  // namespace dse

// Returns early from the enclosing function when `expr` (a Status) is not ok.
#define DSE_RETURN_IF_ERROR(expr)            \
  do {                                       \
    ::dse::Status dse_status_ = (expr);      \
    if (!dse_status_.ok()) return dse_status_; \
  } while (0)
