# Runs at install time (cmake --install, CPack). Installs each tool under its installed name and
# generates its man page and completions by running the installed binary under that name, so
# everything a prefixed install puts down carries the prefix.
#
# Inputs (set by the install(CODE) line in CMakeLists.txt): M2MKIT_TOOL_PATHS, M2MKIT_SOURCE_DIR,
# M2MKIT_WORK_DIR, M2MKIT_NAME_PREFIX. The environment variable M2MKIT_NAME_PREFIX, when set,
# overrides the configured prefix for this install.
set(prefix "${M2MKIT_NAME_PREFIX}")
if(DEFINED ENV{M2MKIT_NAME_PREFIX})
  set(prefix "$ENV{M2MKIT_NAME_PREFIX}")
endif()
set(staged "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}")
set(work "${M2MKIT_WORK_DIR}/install-docs")
file(REMOVE_RECURSE "${work}")
file(MAKE_DIRECTORY "${work}")

foreach(tool_path IN LISTS M2MKIT_TOOL_PATHS)
  get_filename_component(tool "${tool_path}" NAME)
  string(LENGTH "${prefix}" plen)
  string(SUBSTRING "${tool}" 0 ${plen} head)
  if(head STREQUAL prefix)
    set(name "${tool}") # already carries it (m2m-listen with prefix m2m-)
  else()
    set(name "${prefix}${tool}")
  endif()
  file(INSTALL "${tool_path}" DESTINATION "${CMAKE_INSTALL_PREFIX}/bin" RENAME "${name}" USE_SOURCE_PERMISSIONS)
  foreach(kind man bash zsh fish)
    execute_process(COMMAND "${staged}/bin/${name}" --generate ${kind}
      OUTPUT_FILE "${work}/${name}.${kind}" RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0)
      message(FATAL_ERROR "${name} --generate ${kind} failed (${rc})")
    endif()
  endforeach()
  file(INSTALL "${work}/${name}.man" DESTINATION "${CMAKE_INSTALL_PREFIX}/share/man/man1" RENAME "${name}.1")
  file(INSTALL "${work}/${name}.bash" DESTINATION "${CMAKE_INSTALL_PREFIX}/share/bash-completion/completions"
       RENAME "${name}")
  file(INSTALL "${work}/${name}.zsh" DESTINATION "${CMAKE_INSTALL_PREFIX}/share/zsh/vendor-completions"
       RENAME "_${name}")
  file(INSTALL "${work}/${name}.fish" DESTINATION "${CMAKE_INSTALL_PREFIX}/share/fish/vendor_completions.d"
       RENAME "${name}.fish")
  set(any_tool "${staged}/bin/${name}")
endforeach()

execute_process(COMMAND "${any_tool}" --generate man7 OUTPUT_FILE "${work}/m2mkit.7")
file(INSTALL "${work}/m2mkit.7" DESTINATION "${CMAKE_INSTALL_PREFIX}/share/man/man7")
file(INSTALL "${M2MKIT_SOURCE_DIR}/fixtures/" DESTINATION "${CMAKE_INSTALL_PREFIX}/share/m2mkit/fixtures")
