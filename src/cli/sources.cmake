set(PGJOBS_CLI_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/cli_common.cc
  ${CMAKE_CURRENT_LIST_DIR}/cmd_admin.cc
  ${CMAKE_CURRENT_LIST_DIR}/cmd_enqueue.cc
  ${CMAKE_CURRENT_LIST_DIR}/cmd_migrate.cc
  ${CMAKE_CURRENT_LIST_DIR}/cmd_worker.cc
  ${CMAKE_CURRENT_LIST_DIR}/main.cc
)
