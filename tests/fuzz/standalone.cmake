# Adds tests/fuzz to a build of the project without touching tests/CMakeLists.txt: scripts/fuzz
# passes it as -DCMAKE_PROJECT_dse_INCLUDE=<this file>, which CMake includes right after project().
# The deferred include then runs once the top-level CMakeLists.txt has defined every library
# target (deferred calls may not add_subdirectory, hence include and DSE_FUZZ_SOURCE_DIR).
set(DSE_FUZZ_SOURCE_DIR ${CMAKE_CURRENT_LIST_DIR})
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL include ${DSE_FUZZ_SOURCE_DIR}/CMakeLists.txt)
