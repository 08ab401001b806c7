# Cross-compiles for 64-bit ARM Linux with Debian's multiarch cross compiler (g++-aarch64-linux-gnu).
#
#   cmake -S . -B build-aarch64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake \
#     -DCMAKE_PREFIX_PATH=$PWD/build-aarch64-deps/usr      # Catch2 arm64, unpacked (scripts/ci-aarch64)
#
# Libraries come from Debian's arm64 multiarch packages (`apt-get install libzstd-dev:arm64 ...`),
# which live in /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu of the host itself,
# so there is no separate sysroot: the cross compiler searches those directories by default, and
# CMake searches them through CMAKE_LIBRARY_ARCHITECTURE. Tests run under qemu through
# CMAKE_CROSSCOMPILING_EMULATOR (binfmt is not registered on CI machines).
# scripts/ci-aarch64 does all of this; docs/PLATFORMS.md explains it.

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

# qemu's -L is the root in which the target's dynamic loader and libraries are looked up first,
# falling back to the host's own paths. The loader and libc must come from the same glibc build:
# the arm64 -dev packages install libc6:arm64 (multiarch, /lib/aarch64-linux-gnu), and with
# -L /usr/aarch64-linux-gnu the cross loader (libc6-arm64-cross, an older 2.36 build) would load
# that libc.so.6 through the fallback, a mismatch that hangs every pthread_create. So use the
# multiarch root when libc6:arm64 is there, and the cross toolchain's libc otherwise.
if(EXISTS /lib/ld-linux-aarch64.so.1)
  set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64-static;-L;/")
else()
  set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-aarch64-static;-L;/usr/aarch64-linux-gnu")
endif()

# Programs (flatc, pkg-config) are the host's; libraries, headers and packages are the target's.
# Debian's arm64 FlatBuffers package config points flatbuffers::flatc at /usr/bin/flatc, which
# on a multiarch host is the amd64 flatc (flatbuffers-compiler is Multi-Arch: foreign): the
# schema is therefore compiled by the host's flatc without any extra setting.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# Catch2's Debian package is not multi-arch: its CMake config sits in the architecture-neutral
# /usr/lib/cmake/Catch2 and names amd64 static libraries. Ignore it, so that a build without the
# unpacked arm64 Catch2 on CMAKE_PREFIX_PATH fails at find_package with "Catch2 not found"
# rather than at link time with "file in wrong format".
# /lib is the same folder on merged-/usr systems (Debian 12), reached through PATH-derived prefixes.
list(APPEND CMAKE_IGNORE_PATH /usr/lib/cmake/Catch2 /lib/cmake/Catch2)

# pkg-config (xxhash, pcre2, utf8proc): only the arm64 .pc files and the architecture-neutral ones.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
