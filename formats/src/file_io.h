// POSIX file operations for the writer and reader that turn errno into a dse::Status naming the
// file and the reason (private to dse_formats).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "dse/status.h"

namespace dse::formats::detail {

// "No space left on device (errno 28)".
std::string errno_text(int err);

// io_error (or not_found for ENOENT) with "<what> '<path>': <strerror>".
Status errno_status(const std::string& what, const std::filesystem::path& path, int err);

// Writes all `size` bytes at `offset`, retrying short writes and EINTR.
Status write_all_at(int fd, const void* data, size_t size, uint64_t offset,
                    const std::filesystem::path& path);

// fsync of the directory holding `path`, so that a rename into it survives a power loss.
Status sync_parent_directory(const std::filesystem::path& path);

// "0x1234abcd".
std::string hex64(uint64_t value);

}  // namespace dse::formats::detail
