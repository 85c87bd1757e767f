# Helpers that keep every component's CMakeLists.txt to a few lines. Sources are globbed so
# that adding a file never needs a build-system edit (CONFIGURE_DEPENDS re-runs the glob).

# kata_component_library(<target> [EXCLUDE <regex>] LIBS <libs...>)
#   A static library of every *.cc in the current directory except main.cc, *_fuzz.cc and the
#   files whose path matches EXCLUDE.
function(kata_component_library target)
  cmake_parse_arguments(ARG "" "EXCLUDE" "LIBS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "/main\\.cc$|_fuzz\\.cc$")
  if(ARG_EXCLUDE)
    list(FILTER srcs EXCLUDE REGEX "${ARG_EXCLUDE}")
  endif()
  if(NOT srcs)
    return()  # component not written yet
  endif()
  add_library(${target} STATIC ${srcs})
  target_link_libraries(${target} PUBLIC ${ARG_LIBS})
endfunction()

# kata_binary(<name> <library>): the component's thin main.cc linked with its library.
function(kata_binary name library)
  if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
    return()
  endif()
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
  target_link_libraries(${name} PRIVATE ${library})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()

# kata_static_grpc_binary(<name> <library> [FULLY_STATIC] [ARCHIVES <targets...>]
#                         [LIBS <libs...>]): like kata_binary,
#   but gRPC, protobuf and their dependencies come from Debian's TLS-free static archives
#   (grpc++_unsecure); LIBS (plus libc and libstdc++) stay shared unless FULLY_STATIC, which
#   links every library statically (LIBS must then name static archives). ARCHIVES are our
#   own static libraries the component library needs besides katalib and kataprotocols
#   (katattrpc, virtcontainers, ...), in link order. Linked against the
#   shared gRPC libraries, a process maps and relocates all of libgrpc, libprotobuf, abseil,
#   libssl and libcrypto (about 12 MB PSS, 25 MB of files in the guest); statically it keeps
#   only what it uses, and every process of the binary shares those pages. The component
#   archives are taken without their shared link interface for the same reason.
function(kata_static_grpc_binary name library)
  cmake_parse_arguments(ARG "FULLY_STATIC" "" "ARCHIVES;LIBS" ${ARGN})
  if(NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
    return()
  endif()
  pkg_check_modules(GRPC_STATIC REQUIRED grpc++_unsecure)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
  add_dependencies(${name} ${library} ${ARG_ARCHIVES} katalib kataprotocols)
  set(archives)
  foreach(a ${ARG_ARCHIVES})
    list(APPEND archives $<TARGET_FILE:${a}>)
  endforeach()
  target_include_directories(${name} PRIVATE
    $<TARGET_PROPERTY:${library},INTERFACE_INCLUDE_DIRECTORIES>)
  # (The sanitizers' runtimes are shared libraries: an ASan or fuzz build links like the others.)
  if(ARG_FULLY_STATIC AND NOT KATA_ASAN AND NOT KATA_FUZZ)
    target_link_options(${name} PRIVATE -static)
    set(after_group "")  # everything after the group is static too
  else()
    set(after_group -Wl,-Bdynamic)
  endif()
  target_link_libraries(${name} PRIVATE
    $<TARGET_FILE:${library}> ${archives} $<TARGET_FILE:katalib> $<TARGET_FILE:kataprotocols>
    -Wl,-Bstatic -Wl,--start-group ${GRPC_STATIC_STATIC_LIBRARIES} upb re2 cares address_sorting
    protobuf z -Wl,--end-group ${after_group} ${ARG_LIBS} Threads::Threads)
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
endfunction()

# kata_unit_tests(<name> LIBS <libs...>)
#   One CppUTest executable from every *_test.cc in the current directory, registered with CTest.
function(kata_unit_tests name)
  cmake_parse_arguments(ARG "" "" "LIBS;LABELS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cc)
  if(NOT srcs)
    return()
  endif()
  add_executable(${name} ${srcs} ${CMAKE_SOURCE_DIR}/tests/unit/unit_main.cc)
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} PkgConfig::CPPUTEST)
  add_test(NAME ${name} COMMAND ${name} -v)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT 300)
endfunction()

# kata_add_test_suites(): adds every subdirectory of the current one that has a CMakeLists.txt
# (each suite registers its own tests and labels).
function(kata_add_test_suites)
  file(GLOB dirs LIST_DIRECTORIES true CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*)
  foreach(dir ${dirs})
    if(IS_DIRECTORY ${dir} AND EXISTS ${dir}/CMakeLists.txt)
      add_subdirectory(${dir})
    endif()
  endforeach()
endfunction()

# kata_go_peer(<target> <binary>): builds peer/main.go of the current directory into <binary>
#   offline, against Debian's Go library sources in KATA_GOPATH (GOPATH mode, no network), with
#   GO_EXECUTABLE; <target> is the custom target to depend on. For the interop tests' peers.
function(kata_go_peer target binary)
  add_custom_command(
    OUTPUT ${binary}
    COMMAND ${CMAKE_COMMAND} -E env GO111MODULE=off GOPATH=${KATA_GOPATH} GOPROXY=off
            GOFLAGS= CGO_ENABLED=0 GOCACHE=${CMAKE_CURRENT_BINARY_DIR}/gocache
            ${GO_EXECUTABLE} build -o ${binary} main.go
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/peer
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/peer/main.go
    COMMENT "Building ${target} (Go)"
    VERBATIM)
  add_custom_target(${target} DEPENDS ${binary})
endfunction()
