# HIP builds of the GPU backend (DSE_ENABLE_HIP=ON) for AMD GPUs: AMD's ROCm 6 or newer (gfx1100,
# gfx942), or Debian 12's ROCm 5.2.3 packages (gfx90a, gfx1030). Compilers, ROCm root and
# architectures only.
#
#   # ROCm 6+ from AMD (/opt/rocm): RDNA3 and MI300 by default
#   cmake -S . -B build-rocm -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/rocm.cmake -DDSE_ENABLE_HIP=ON
#   # Debian 12 (apt-get install hipcc libamdhip64-dev rocm-device-libs): MI200 and RDNA2
#   cmake -S . -B build-hip -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/rocm.cmake -DDSE_ENABLE_HIP=ON \
#     -DDSE_ROCM_ROOT=/usr
#
# Variables (cache variables, or environment variables of the same name):
#   DSE_ROCM_ROOT           where ROCm is installed. Default: $ROCM_PATH, else /opt/rocm if it
#                           exists, else /usr (Debian's packages).
#   CMAKE_HIP_ARCHITECTURES the gfx targets. Default: gfx1100;gfx942 for ROCm 6+, gfx90a;gfx1030
#                           for Debian's 5.2.3 (which cannot build gfx1100 or gfx942: its device
#                           library lacks gfx1100 and its clang-15 does not know gfx942).
# Always set by this file, because CMake would otherwise ask the (absent) GPU for its arch.

foreach(_var DSE_ROCM_ROOT)
  if(NOT DEFINED ${_var} AND DEFINED ENV{${_var}})
    set(${_var} "$ENV{${_var}}")
  endif()
endforeach()
if(NOT DSE_ROCM_ROOT)
  if(DEFINED ENV{ROCM_PATH})
    set(DSE_ROCM_ROOT "$ENV{ROCM_PATH}")
  elseif(EXISTS /opt/rocm)
    set(DSE_ROCM_ROOT /opt/rocm)
  else()
    set(DSE_ROCM_ROOT /usr)
  endif()
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES DSE_ROCM_ROOT)

set(_dse_debian_cmake /usr/lib/x86_64-linux-gnu/cmake)
if(EXISTS "${DSE_ROCM_ROOT}/lib/cmake/hip-lang/hip-lang-config.cmake")
  # AMD's layout: the ROCm clang under llvm/, package configs under lib/cmake.
  set(CMAKE_HIP_COMPILER "${DSE_ROCM_ROOT}/llvm/bin/clang++")
  set(CMAKE_HIP_COMPILER_ROCM_ROOT "${DSE_ROCM_ROOT}")
  list(APPEND CMAKE_PREFIX_PATH "${DSE_ROCM_ROOT}")
  set(_dse_default_archs "gfx1100;gfx942")
elseif(DSE_ROCM_ROOT STREQUAL "/usr" AND EXISTS "${_dse_debian_cmake}/hip-lang/hip-lang-config.cmake")
  # Debian's layout: configs under lib/x86_64-linux-gnu/cmake, where CMake 3.25's HIP support does
  # not look (it wants <root>/lib/cmake/hip-lang). Give it a root made of links to Debian's
  # config folders; everything else (headers, bitcode, the runtime) stays where Debian put it.
  set(_dse_layout "${CMAKE_BINARY_DIR}/dse-rocm-debian")
  file(MAKE_DIRECTORY "${_dse_layout}/lib/cmake")
  foreach(_pkg hip-lang hip amd_comgr hsa-runtime64 AMDDeviceLibs)
    if(EXISTS "${_dse_debian_cmake}/${_pkg}" AND NOT EXISTS "${_dse_layout}/lib/cmake/${_pkg}")
      file(CREATE_LINK "${_dse_debian_cmake}/${_pkg}" "${_dse_layout}/lib/cmake/${_pkg}" SYMBOLIC)
    endif()
  endforeach()
  find_program(_dse_clang15 NAMES clang++-15 REQUIRED)
  set(CMAKE_HIP_COMPILER "${_dse_clang15}")
  set(CMAKE_HIP_COMPILER_ROCM_ROOT "${_dse_layout}")
  list(APPEND CMAKE_PREFIX_PATH "${_dse_layout}")
  set(CMAKE_HIP_FLAGS_INIT
      "--rocm-path=/usr --hip-device-lib-path=/usr/lib/x86_64-linux-gnu/amdgcn/bitcode")
  set(_dse_default_archs "gfx90a;gfx1030")
else()
  message(FATAL_ERROR
    "rocm.cmake: expected ROCm under DSE_ROCM_ROOT='${DSE_ROCM_ROOT}' (a folder with "
    "lib/cmake/hip-lang/hip-lang-config.cmake, as AMD installs it in /opt/rocm), or Debian's "
    "packages with DSE_ROCM_ROOT=/usr; found neither. Install ROCm 6+, or run "
    "`apt-get install hipcc libamdhip64-dev rocm-device-libs` and pass -DDSE_ROCM_ROOT=/usr.")
endif()

if(NOT DEFINED CMAKE_HIP_ARCHITECTURES OR CMAKE_HIP_ARCHITECTURES STREQUAL "")
  set(CMAKE_HIP_ARCHITECTURES "${_dse_default_archs}" CACHE STRING "AMD GPU architectures (gfx...)")
endif()
