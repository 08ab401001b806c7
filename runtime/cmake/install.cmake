# Installing the SDK: libdse, the libraries it links (formats, cpu kernels, tokenizer), the public
# headers, and dseConfig.cmake so that an application finds it with find_package(dse). Everything
# here is the install component dse_sdk: `cmake --install BUILD --component dse_sdk`.
include(CMakePackageConfigHelpers)

# Exported as dse::runtime, dse::formats, dse::cpu, dse::targets, dse::gpu_workspace, dse::tokenizer, dse::status
# (and dse::gpu in a CUDA or HIP build).
set(_dse_sdk_targets dse_runtime dse_formats dse_cpu dse_targets dse_gpu_workspace dse_tokenizer dse_status)
set_target_properties(dse_targets PROPERTIES EXPORT_NAME targets)
set_target_properties(dse_gpu_workspace PROPERTIES EXPORT_NAME gpu_workspace)
set(DSE_SDK_WITH_CUDA ${DSE_ENABLE_CUDA})
set(DSE_SDK_WITH_HIP ${DSE_ENABLE_HIP})
if(DSE_ENABLE_CUDA OR DSE_ENABLE_HIP)
  list(APPEND _dse_sdk_targets dse_gpu)
  set_target_properties(dse_gpu PROPERTIES EXPORT_NAME gpu)
endif()
set_target_properties(dse_formats PROPERTIES EXPORT_NAME formats)
set_target_properties(dse_cpu PROPERTIES EXPORT_NAME cpu)
set_target_properties(dse_tokenizer PROPERTIES EXPORT_NAME tokenizer)
set_target_properties(dse_status PROPERTIES EXPORT_NAME status)

install(TARGETS ${_dse_sdk_targets} EXPORT dseTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dse_sdk
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dse_sdk
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dse_sdk
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# Public API. The internal C++ headers (include/dse/runtime/) are not installed.
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/dse/dse.h ${CMAKE_CURRENT_SOURCE_DIR}/include/dse/dse.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dse COMPONENT dse_sdk)
# What the linked libraries' headers need: status, formats (with the generated schema header),
# the kernel ABI and CPU kernels, the tokenizer.
install(FILES ${PROJECT_SOURCE_DIR}/formats/include/dse/status.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dse COMPONENT dse_sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/formats/include/dse/formats DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dse COMPONENT dse_sdk)
install(FILES ${PROJECT_BINARY_DIR}/formats/generated/dse/formats/artifact_generated.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dse/formats COMPONENT dse_sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/targets/include/dse/targets DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dse COMPONENT dse_sdk)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/targets/cpu/include/dse/cpu DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dse COMPONENT dse_sdk)
install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/tokenizer/include/dse/tokenizer DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/dse COMPONENT dse_sdk)

set(_dse_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/dse)
install(EXPORT dseTargets NAMESPACE dse:: DESTINATION ${_dse_cmake_dir} COMPONENT dse_sdk)
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/dseConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/dseConfig.cmake INSTALL_DESTINATION ${_dse_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/dseConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dseConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/dseConfigVersion.cmake
        DESTINATION ${_dse_cmake_dir} COMPONENT dse_sdk)
