// A disk that fills up, for tests: preloaded into a process (LD_PRELOAD), it lets pwrite/pwrite64
// store DSE_FAULT_ENOSPC_AFTER bytes in all and then fails every further write with ENOSPC, as a
// full file system does (a write that crosses the limit stores the bytes that fit). Only pwrite is
// intercepted: the artifact writer (formats/src/file_io.cpp) writes through it alone, and the
// process's own messages (write to stderr) must still get out.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);

static long long remaining = -1;

static ssize_t limited(pwrite_fn real, int fd, const void* buf, size_t n, off_t off) {
  if (remaining < 0) {
    const char* v = getenv("DSE_FAULT_ENOSPC_AFTER");
    remaining = v ? atoll(v) : LLONG_MAX;
  }
  if (remaining == 0 && n > 0) {
    errno = ENOSPC;
    return -1;
  }
  if ((long long)n > remaining) n = (size_t)remaining;
  const ssize_t w = real(fd, buf, n, off);
  if (w > 0) remaining -= w;
  return w;
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static pwrite_fn real;
  if (!real) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
  return limited(real, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  static pwrite_fn real;
  if (!real) real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
  return limited(real, fd, buf, n, off);
}
