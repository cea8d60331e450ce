# The dashboard, JSON API and /metrics (`pgjobs web`): a library of its own,
# so that libpgjobs does not depend on cpp-httplib and libsodium. Its pages,
# style sheet and script (assets/) are embedded at build time.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
pkg_check_modules(SODIUM REQUIRED IMPORTED_TARGET libsodium)

file(GLOB PGJOBS_WEB_ASSETS CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/assets/*)
string(REPLACE ";" "|" PGJOBS_WEB_ASSETS_ARG "${PGJOBS_WEB_ASSETS}")
set(PGJOBS_WEB_ASSETS_CC ${PROJECT_BINARY_DIR}/generated/web_assets.cc)
add_custom_command(
  OUTPUT ${PGJOBS_WEB_ASSETS_CC}
  COMMAND ${CMAKE_COMMAND} -DOUT=${PGJOBS_WEB_ASSETS_CC} "-DFILES=${PGJOBS_WEB_ASSETS_ARG}"
          -P ${PROJECT_SOURCE_DIR}/tools/embed_web.cmake
  DEPENDS ${PGJOBS_WEB_ASSETS} ${PROJECT_SOURCE_DIR}/tools/embed_web.cmake
  COMMENT "Embedding the dashboard's assets"
  VERBATIM)

add_library(pgjobs_web STATIC
  ${CMAKE_CURRENT_LIST_DIR}/actions.cc
  ${CMAKE_CURRENT_LIST_DIR}/view_actions.cc
  ${CMAKE_CURRENT_LIST_DIR}/assets.cc
  ${CMAKE_CURRENT_LIST_DIR}/auth.cc
  ${CMAKE_CURRENT_LIST_DIR}/db_pool.cc
  ${CMAKE_CURRENT_LIST_DIR}/html.cc
  ${CMAKE_CURRENT_LIST_DIR}/metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/server.cc
  ${CMAKE_CURRENT_LIST_DIR}/view_jobs.cc
  ${CMAKE_CURRENT_LIST_DIR}/view_overview.cc
  ${CMAKE_CURRENT_LIST_DIR}/view_schedules.cc
  ${CMAKE_CURRENT_LIST_DIR}/view_workers.cc
  ${PGJOBS_WEB_ASSETS_CC})
target_link_libraries(pgjobs_web PUBLIC pgjobs_internal PkgConfig::HTTPLIB PkgConfig::SODIUM)
pgjobs_warnings(pgjobs_web)
pgjobs_precompile(pgjobs_web <httplib.h>)
