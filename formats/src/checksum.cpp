// xxHash64 through libxxhash; the streaming state stays private to this file.
#include "dse/formats/checksum.h"

#include <algorithm>
#include <array>

#define XXH_STATIC_LINKING_ONLY  // XXH64_state_t by value
#include <xxhash.h>

namespace dse::formats {

uint64_t xxhash64(std::span<const std::byte> bytes) {
  return XXH64(bytes.data(), bytes.size(), 0);
}

uint64_t xxhash64(std::span<const uint8_t> bytes) {
  return XXH64(bytes.data(), bytes.size(), 0);
}

struct Xxhash64Stream::State {
  XXH64_state_t xxh;
};

Xxhash64Stream::Xxhash64Stream() : state_(std::make_unique<State>()) { reset(); }
Xxhash64Stream::~Xxhash64Stream() = default;
Xxhash64Stream::Xxhash64Stream(Xxhash64Stream&&) noexcept = default;
Xxhash64Stream& Xxhash64Stream::operator=(Xxhash64Stream&&) noexcept = default;

void Xxhash64Stream::reset() { XXH64_reset(&state_->xxh, 0); }

void Xxhash64Stream::update(std::span<const std::byte> bytes) {
  XXH64_update(&state_->xxh, bytes.data(), bytes.size());
}

void Xxhash64Stream::update_zeros(uint64_t count) {
  // 64 KiB stays in L1/L2 while it is hashed over and over: gigabytes of zeros hash in well
  // under a second, which is what keeps sparse (hole) segments cheap.
  static constexpr std::array<std::byte, 64 * 1024> kZeros{};
  while (count > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(count, kZeros.size()));
    XXH64_update(&state_->xxh, kZeros.data(), n);
    count -= n;
  }
}

uint64_t Xxhash64Stream::digest() const { return XXH64_digest(&state_->xxh); }

}  // namespace dse::formats
