# Cross-compiles for NVIDIA Jetson Orin (aarch64 CPU, CUDA sm_87) from an x86-64 host, against a
# JetPack root file system. NOT TESTED in this project's CI: no JetPack sysroot or aarch64 CUDA
# toolkit is available there (docs/PLATFORMS.md says what was and was not checked).
#
#   cmake -S . -B build-orin -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=toolchains/jetson-orin.cmake \
#     -DDSE_JETPACK_SYSROOT=$HOME/nvidia/Linux_for_Tegra/rootfs \
#     -DDSE_JETPACK_CUDA=/usr/local/cuda-12.6 \
#     -DDSE_ENABLE_CUDA=ON -DDSE_BUILD_COMPILER=OFF
#
# Variables (cache variables, or environment variables of the same name):
#   DSE_JETPACK_SYSROOT  (required) the target's root file system: Linux_for_Tegra/rootfs as
#                        flashed by SDK Manager, or a copy of a Jetson's /, with the SDK's -dev
#                        packages installed in it (libflatbuffers-dev >= 2.0, libzstd-dev,
#                        libxxhash-dev, libpcre2-dev, libutf8proc-dev, nlohmann-json3-dev, and
#                        libcatch2-dev v3 for the tests).
#   DSE_JETPACK_CUDA     (default /usr/local/cuda) the HOST's CUDA toolkit of the same version as
#                        the JetPack's, with the aarch64 cross target installed (NVIDIA's
#                        cuda-cross-aarch64 package: it adds targets/aarch64-linux/).
#   DSE_JETSON_CROSS     (default aarch64-linux-gnu-) prefix of the cross gcc/g++. Its libstdc++
#                        must not be newer than the target's: JetPack 6 (Ubuntu 22.04) ships
#                        libstdc++ from GCC 12, as Debian 12's cross g++ 12 expects.
#
# flatc: the sysroot's FlatBuffers package config names the sysroot's (aarch64) flatc, which cannot
# run on the host. formats/ must be told to use the host's flatc of the same version; see
# "Jetson Orin" in docs/PLATFORMS.md (-DFLATBUFFERS_FLATC_EXECUTABLE=/usr/bin/flatc).

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

foreach(_var DSE_JETPACK_SYSROOT DSE_JETPACK_CUDA DSE_JETSON_CROSS)
  if(NOT DEFINED ${_var} AND DEFINED ENV{${_var}})
    set(${_var} "$ENV{${_var}}")
  endif()
endforeach()
if(NOT DSE_JETSON_CROSS)
  set(DSE_JETSON_CROSS aarch64-linux-gnu-)
endif()
if(NOT DSE_JETPACK_CUDA)
  set(DSE_JETPACK_CUDA /usr/local/cuda)
endif()
if(NOT DSE_JETPACK_SYSROOT OR NOT EXISTS "${DSE_JETPACK_SYSROOT}/usr/lib/aarch64-linux-gnu")
  message(FATAL_ERROR
    "jetson-orin.cmake: expected DSE_JETPACK_SYSROOT to name a JetPack root file system (a folder "
    "with usr/lib/aarch64-linux-gnu), found '${DSE_JETPACK_SYSROOT}'. Pass "
    "-DDSE_JETPACK_SYSROOT=<...>/Linux_for_Tegra/rootfs, or use toolchains/aarch64-linux-gnu.cmake "
    "for a CPU-only aarch64 build without a sysroot.")
endif()
# try_compile projects re-read this file without the command line's -D values.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DSE_JETPACK_SYSROOT DSE_JETPACK_CUDA DSE_JETSON_CROSS)

set(CMAKE_C_COMPILER ${DSE_JETSON_CROSS}gcc)
set(CMAKE_CXX_COMPILER ${DSE_JETSON_CROSS}g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_SYSROOT "${DSE_JETPACK_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${DSE_JETPACK_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # flatc, pkg-config, nvcc run on the host
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

set(ENV{PKG_CONFIG_SYSROOT_DIR} "${DSE_JETPACK_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${DSE_JETPACK_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${DSE_JETPACK_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# CPU tests can run under qemu against the sysroot's libraries (the CUDA tests skip without a GPU).
find_program(DSE_QEMU_AARCH64 qemu-aarch64-static)
if(DSE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${DSE_QEMU_AARCH64};-L;${DSE_JETPACK_SYSROOT}")
endif()

# CUDA for Orin's GPU (Ampere, sm_87). The host's nvcc compiles device code and hands host code to
# the cross g++; headers and libraries come from the toolkit's targets/aarch64-linux (CMake's
# FindCUDAToolkit selects it when cross-compiling for aarch64). CMake passes no --sysroot to nvcc,
# so it is given to the host compiler here.
# Said once: this file is read again by every try_compile.
get_property(_dse_warned GLOBAL PROPERTY DSE_JETSON_CUDA_WARNED)
get_property(_dse_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
if(NOT EXISTS "${DSE_JETPACK_CUDA}/targets/aarch64-linux" AND NOT _dse_in_try_compile AND NOT _dse_warned)
  set_property(GLOBAL PROPERTY DSE_JETSON_CUDA_WARNED TRUE)
  message(WARNING
    "jetson-orin.cmake: expected the aarch64 cross target of CUDA in "
    "${DSE_JETPACK_CUDA}/targets/aarch64-linux, found none: only -DDSE_ENABLE_CUDA=OFF can build. "
    "Install NVIDIA's cuda-cross-aarch64 of the JetPack's CUDA version and pass -DDSE_JETPACK_CUDA.")
endif()
set(CMAKE_CUDA_COMPILER "${DSE_JETPACK_CUDA}/bin/nvcc")
set(CMAKE_CUDA_HOST_COMPILER ${DSE_JETSON_CROSS}g++)
set(CMAKE_CUDA_ARCHITECTURES 87)
set(CUDAToolkit_ROOT "${DSE_JETPACK_CUDA}")
set(CMAKE_CUDA_FLAGS_INIT "-target-dir aarch64-linux -Xcompiler=--sysroot=${DSE_JETPACK_SYSROOT}")
