// xxHash64 (seed 0), the checksum of the artifact header, the metadata and every segment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace dse::formats {

// xxHash64 with seed 0 of `bytes`.
uint64_t xxhash64(std::span<const std::byte> bytes);
uint64_t xxhash64(std::span<const uint8_t> bytes);

// The same hash over data that arrives in pieces (a segment written or read in chunks).
// update(a); update(b) gives the same digest as xxhash64(a + b).
class Xxhash64Stream {
 public:
  Xxhash64Stream();
  ~Xxhash64Stream();
  Xxhash64Stream(Xxhash64Stream&&) noexcept;
  Xxhash64Stream& operator=(Xxhash64Stream&&) noexcept;
  Xxhash64Stream(const Xxhash64Stream&) = delete;
  Xxhash64Stream& operator=(const Xxhash64Stream&) = delete;

  void reset();
  void update(std::span<const std::byte> bytes);
  // Hashes `count` zero bytes without the caller materialising them.
  void update_zeros(uint64_t count);
  uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace dse::formats
