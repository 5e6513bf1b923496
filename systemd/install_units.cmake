# Runs at install time (see CMakeLists.txt): renders the units for the install
# prefix and installs them. The checked-in units are valid as they stand for a
# /usr install; only paths (and the socket group) are rewritten.
foreach(var ZLAYER_UNIT_SOURCE_DIR ZLAYER_UNIT_WORK_DIR ZLAYER_BINDIR ZLAYER_DOCDIR
            ZLAYER_UNIT_DIR ZLAYER_SOCKET_GROUP)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "install_units.cmake: ${var} is not set")
  endif()
endforeach()

function(zlayer_absolute out path)
  if(IS_ABSOLUTE "${path}")
    set(${out} "${path}" PARENT_SCOPE)
  else()
    set(${out} "${CMAKE_INSTALL_PREFIX}/${path}" PARENT_SCOPE)
  endif()
endfunction()

zlayer_absolute(bindir "${ZLAYER_BINDIR}")
zlayer_absolute(docdir "${ZLAYER_DOCDIR}")
zlayer_absolute(unitdir "${ZLAYER_UNIT_DIR}")

# One work directory per destination, so that concurrent installs (the tests do
# that) never read each other's rendering.
string(MD5 dest_hash "$ENV{DESTDIR}|${unitdir}|${bindir}")
set(work "${ZLAYER_UNIT_WORK_DIR}/${dest_hash}")
file(MAKE_DIRECTORY "${work}")
foreach(unit zlayer-agentd.service zlayer-agentd.socket)
  file(READ "${ZLAYER_UNIT_SOURCE_DIR}/${unit}" text)
  string(REPLACE "ExecStart=/usr/bin/zlayer-agentd" "ExecStart=${bindir}/zlayer-agentd"
         text "${text}")
  string(REPLACE "file:/usr/share/doc/zlayer-agentd/" "file:${docdir}/" text "${text}")
  string(REPLACE "SocketGroup=root" "SocketGroup=${ZLAYER_SOCKET_GROUP}" text "${text}")
  file(WRITE "${work}/${unit}" "${text}")
  file(INSTALL "${work}/${unit}" DESTINATION "${unitdir}"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()
