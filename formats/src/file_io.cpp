// errno-to-Status helpers and the write loop shared by the artifact writer and reader.
#include "file_io.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

namespace dse::formats::detail {

std::string errno_text(int err) {
  return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

Status errno_status(const std::string& what, const std::filesystem::path& path, int err) {
  const StatusCode code = err == ENOENT ? StatusCode::not_found : StatusCode::io_error;
  return Status(code, what + " '" + path.string() + "': " + errno_text(err));
}

// A write that ran out of room: say what to do about it (the partial file is removed by the caller).
static Status with_space_advice(const Status& st) {
  return Status(st.code(), st.message() + "; free space on that disk, or write the artifact to another one (-o)");
}

Status write_all_at(int fd, const void* data, size_t size, uint64_t offset,
                    const std::filesystem::path& path) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      Status st = errno_status("cannot write " + std::to_string(size) + " bytes at offset " +
                                   std::to_string(offset) + " of",
                               path, err);
      return err == ENOSPC || err == EDQUOT || err == EFBIG ? with_space_advice(st) : st;
    }
    if (n == 0) {
      // pwrite returning 0 for a non-zero size means the device refused more data.
      return with_space_advice(errno_status("cannot write at offset " + std::to_string(offset) + " of", path, ENOSPC));
    }
    p += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return Status::Ok();
}

Status sync_parent_directory(const std::filesystem::path& path) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("cannot open directory", dir, errno);
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  // Some file systems (e.g. certain network mounts) do not support fsync on a directory; the
  // rename has happened, so that is not worth failing the whole write for.
  if (rc != 0 && err != EINVAL && err != ENOTSUP) return errno_status("cannot fsync directory", dir, err);
  return Status::Ok();
}

std::string hex64(uint64_t value) {
  char buf[2 + 16 + 1];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(value));
  return buf;
}

}  // namespace dse::formats::detail
