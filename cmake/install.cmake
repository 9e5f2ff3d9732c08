# Installing: programs, libae with its public headers, pkg-config and CMake
# package files, and for every program in AE_PROGRAMS a man page and a bash
# completion file, both made at build time from the program's --help (so
# they cannot drift from it).
install(TARGETS ae EXPORT aeTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/ae DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(_ae_installed_programs "")
foreach(prog ${AE_PROGRAMS})
  if(TARGET ${prog})
    list(APPEND _ae_installed_programs ${prog})
  endif()
endforeach()
install(TARGETS ${_ae_installed_programs} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# pkg-config.  libae is a static library, so what it links goes into Libs
# and Requires (not the .private fields, which plain `pkg-config --libs`
# leaves out): a user's `cc x.c $(pkg-config --cflags --libs libae)` links.
set(AE_PC_REQUIRES "libcjson zlib libprotobuf-c")
set(AE_PC_LIBS "")
if(OPENBLAS_FOUND)
  string(PREPEND AE_PC_REQUIRES "openblas ")
else()
  foreach(l ${BLAS_LIBRARIES} ${AE_LAPACK_LIBRARIES})
    string(APPEND AE_PC_LIBS " ${l}")
  endforeach()
endif()
if(AE_DNNL_OK)
  get_filename_component(_dnnl_dir ${DNNL_LIBRARY} DIRECTORY)
  string(APPEND AE_PC_LIBS " -L${_dnnl_dir} -ldnnl ${OpenMP_C_FLAGS}")
endif()
if(AE_MPI)
  foreach(l ${MPI_C_LIBRARIES})
    string(APPEND AE_PC_LIBS " ${l}")
  endforeach()
endif()
string(APPEND AE_PC_LIBS " -lm")
if(AE_SANITIZE) # a sanitizer build's libae needs their runtimes at link time
  string(APPEND AE_PC_LIBS " -fsanitize=address,undefined")
endif()
set(AE_PC_CFLAGS "")
if(AE_MPI)
  set(AE_PC_CFLAGS "-DAE_MPI=1")
  foreach(d ${MPI_C_INCLUDE_DIRS})
    string(APPEND AE_PC_CFLAGS " -I${d}")
  endforeach()
endif()
# relocatable: the prefix is found from where libae.pc is (cmake --install --prefix P)
file(RELATIVE_PATH AE_PC_UP /root/${CMAKE_INSTALL_LIBDIR}/pkgconfig /root)
string(REGEX REPLACE "/$" "" AE_PC_UP "${AE_PC_UP}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/libae.pc.in ${CMAKE_BINARY_DIR}/libae.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/libae.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# CMake package: find_package(ae) gives the imported target ae::ae.  The
# library's private dependencies (a static library's link line) are exported
# with it; aeConfig.cmake finds them again on the user's machine.
set(_ae_dep_targets "")
foreach(t ae_dnnl ae_blas)
  if(TARGET ${t})
    list(APPEND _ae_dep_targets ${t})
  endif()
endforeach()
if(_ae_dep_targets)
  install(TARGETS ${_ae_dep_targets} EXPORT aeTargets)
endif()
install(EXPORT aeTargets NAMESPACE ae:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ae)
include(CMakePackageConfigHelpers)
set(AE_CONFIG_OPENBLAS ${OPENBLAS_FOUND})
set(AE_CONFIG_DNNL ${AE_DNNL_OK})
set(AE_CONFIG_MPI ${AE_MPI})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/aeConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/aeConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ae)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/aeConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/aeConfig.cmake ${CMAKE_BINARY_DIR}/aeConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ae)

# Man pages (help2man, Debian package help2man) and bash completion, one of
# each per program; the NAME line is the first sentence of the comment that
# opens src/cli/<prog>.c ("aeencode: write the latent codes ...").
find_program(HELP2MAN help2man)
set(_ae_man_pages "")
set(_ae_completions "")
foreach(prog ${_ae_installed_programs})
  file(READ ${CMAKE_SOURCE_DIR}/src/cli/${prog}.c _what LIMIT 1000)
  string(REGEX REPLACE "\\*/.*" "" _what "${_what}")          # the opening comment
  string(REGEX REPLACE "[ \t\r\n]+\\*?[ \t]*" " " _what "${_what}") # one line
  string(REGEX REPLACE "^/\\* *${prog}: *" "" _what "${_what}")
  string(REGEX REPLACE "\\.( .*)?$" "" _what "${_what}")      # the first sentence
  string(REPLACE ";" "," _what "${_what}")                  # not a CMake list
  string(STRIP "${_what}" _what)
  if(HELP2MAN)
    add_custom_command(
      OUTPUT ${CMAKE_BINARY_DIR}/man/${prog}.1
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND ${HELP2MAN} --no-info --no-discard-stderr --name ${_what}
              --output ${CMAKE_BINARY_DIR}/man/${prog}.1 $<TARGET_FILE:${prog}>
      DEPENDS ${prog}
      COMMENT "help2man: ${prog}.1"
      VERBATIM)
    list(APPEND _ae_man_pages ${CMAKE_BINARY_DIR}/man/${prog}.1)
  endif()
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/completions/${prog}
    COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/completion.sh $<TARGET_FILE:${prog}>
            ${CMAKE_BINARY_DIR}/completions/${prog}
    DEPENDS ${prog} ${CMAKE_SOURCE_DIR}/scripts/completion.sh
    COMMENT "bash completion: ${prog}"
    VERBATIM)
  list(APPEND _ae_completions ${CMAKE_BINARY_DIR}/completions/${prog})
endforeach()
add_custom_target(ae_docs ALL DEPENDS ${_ae_man_pages} ${_ae_completions})
if(HELP2MAN)
  install(FILES ${_ae_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  list(JOIN _ae_installed_programs ", " _names)
  message(STATUS "autoencoder toolkit: man pages: generated with ${HELP2MAN} for ${_names}")
else()
  message(STATUS "autoencoder toolkit: man pages: NOT generated, not installed (help2man not found: "
                 "apt-get install help2man; scripts/deps.sh does this as root)")
endif()
install(FILES ${_ae_completions} DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
