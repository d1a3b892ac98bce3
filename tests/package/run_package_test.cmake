# SPDX-License-Identifier: MIT
# cmake -DMODE=find_package|add_subdirectory -DPREFOPT_SOURCE_DIR=<repo> -DPREFOPT_BINARY_DIR=<build>
#       -DWORK_DIR=<scratch dir> [-DGENERATOR=<gen>] [-DMAKE_PROGRAM=<prog>] [-DCXX_COMPILER=<c++>]
#       [-DBUILD_CONFIG=<config>] -P run_package_test.cmake
#
# find_package:     installs the prefopt build into WORK_DIR/install, checks the installed package
#                   files do not point back into the source tree, then configures downstream/ with
#                   CMAKE_PREFIX_PATH=WORK_DIR/install and checks that this prefopt is the one found.
# add_subdirectory: configures downstream/ with PREFOPT_SOURCE_DIR=<repo> and checks that prefopt's
#                   tests were not configured (they are off when prefopt is not the top level).
# Both then build downstream/ and run it; it prints GPT-2 124M's parameter count and exits 0 only
# when it is 124,439,808. Any failure is a FATAL_ERROR with the failing command's output.
cmake_minimum_required(VERSION 3.18)

foreach(var MODE PREFOPT_SOURCE_DIR PREFOPT_BINARY_DIR WORK_DIR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "run_package_test.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT MODE MATCHES "^(find_package|add_subdirectory)$")
  message(FATAL_ERROR "run_package_test.cmake: MODE must be find_package or add_subdirectory, got '${MODE}'")
endif()
if(NOT BUILD_CONFIG)
  set(BUILD_CONFIG Release)
endif()

# run_step(<description> <command...>): runs the command, fails the test with its output if it fails.
function(run_step description)
  message(STATUS "[${MODE}] ${description}")
  execute_process(COMMAND ${ARGN}
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " cmd "${ARGN}")
    message(FATAL_ERROR "[${MODE}] ${description} failed (exit ${rc})\n  command: ${cmd}\n"
                        "--- stdout ---\n${out}\n--- stderr ---\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(install_dir "${WORK_DIR}/install")
set(build_dir "${WORK_DIR}/build")

set(configure_args -S "${PREFOPT_SOURCE_DIR}/tests/package/downstream" -B "${build_dir}"
    "-DCMAKE_BUILD_TYPE=${BUILD_CONFIG}")
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()

if(MODE STREQUAL "find_package")
  run_step("install ${PREFOPT_BINARY_DIR} to ${install_dir}"
    "${CMAKE_COMMAND}" --install "${PREFOPT_BINARY_DIR}" --prefix "${install_dir}" --config "${BUILD_CONFIG}")
  file(GLOB_RECURSE config_files "${install_dir}/*prefoptConfig.cmake")
  if(NOT config_files)
    message(FATAL_ERROR "[${MODE}] no prefoptConfig.cmake under ${install_dir}")
  endif()
  if(NOT EXISTS "${install_dir}/include/prefopt/model/parameter_table.hpp")
    message(FATAL_ERROR "[${MODE}] headers were not installed to ${install_dir}/include/prefopt")
  endif()
  # The exported target must carry the installed include directory, or downstream code cannot
  # find the headers (an empty $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}> when GNUInstallDirs
  # is included after target_include_directories, for instance).
  file(GLOB_RECURSE targets_files "${install_dir}/*prefoptTargets.cmake")
  file(READ "${targets_files}" text)
  if(NOT text MATCHES "INTERFACE_INCLUDE_DIRECTORIES \"[^\"]*_IMPORT_PREFIX")
    message(FATAL_ERROR "[${MODE}] the exported prefopt::prefopt has no INTERFACE_INCLUDE_DIRECTORIES "
                        "under the install prefix (${targets_files}); is include(GNUInstallDirs) "
                        "placed before target_include_directories(prefopt ...)?")
  endif()
  # A relocatable package must not send users back to the source or build tree.
  file(GLOB_RECURSE package_files "${install_dir}/*.cmake")
  foreach(f ${package_files})
    file(READ "${f}" text)
    foreach(tree "${PREFOPT_SOURCE_DIR}" "${PREFOPT_BINARY_DIR}")
      string(FIND "${text}" "${tree}" at)
      if(NOT at EQUAL -1)
        message(FATAL_ERROR "[${MODE}] installed ${f} refers to ${tree}")
      endif()
    endforeach()
  endforeach()
  run_step("configure downstream/ with CMAKE_PREFIX_PATH=${install_dir}"
    "${CMAKE_COMMAND}" ${configure_args} "-DCMAKE_PREFIX_PATH=${install_dir}")
  # The prefopt found must be the one just installed, not one elsewhere on the system.
  file(STRINGS "${build_dir}/CMakeCache.txt" found_dir REGEX "^prefopt_DIR:")
  string(REGEX REPLACE "^prefopt_DIR:[A-Z]+=" "" found_dir "${found_dir}")
  file(REAL_PATH "${install_dir}" real_install)
  file(REAL_PATH "${found_dir}" real_found)
  string(FIND "${real_found}" "${real_install}/" at)
  if(NOT at EQUAL 0)
    message(FATAL_ERROR "[${MODE}] find_package found prefopt in '${found_dir}', not under ${install_dir}")
  endif()
  message(STATUS "[${MODE}] prefopt_DIR = ${found_dir}")
else()
  run_step("configure downstream/ with add_subdirectory(${PREFOPT_SOURCE_DIR})"
    "${CMAKE_COMMAND}" ${configure_args} "-DPREFOPT_SOURCE_DIR=${PREFOPT_SOURCE_DIR}")
  if(EXISTS "${build_dir}/prefopt-build/tests")
    message(FATAL_ERROR "[${MODE}] prefopt configured its tests although it is not the top-level project")
  endif()
endif()

run_step("build downstream/" "${CMAKE_COMMAND}" --build "${build_dir}" --config "${BUILD_CONFIG}")

set(exe "${build_dir}/downstream")
if(NOT EXISTS "${exe}" AND EXISTS "${build_dir}/${BUILD_CONFIG}/downstream")
  set(exe "${build_dir}/${BUILD_CONFIG}/downstream")  # multi-config generators
endif()
run_step("run downstream" "${exe}")
string(STRIP "${step_output}" step_output)
message(STATUS "[${MODE}] ${step_output}")
if(NOT step_output MATCHES "124439808")
  message(FATAL_ERROR "[${MODE}] unexpected output from downstream: ${step_output}")
endif()
message(STATUS "[${MODE}] ok")
