list(APPEND PGJOBS_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/admin_query.cc
  ${CMAKE_CURRENT_LIST_DIR}/broker_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/audit.cc
  ${CMAKE_CURRENT_LIST_DIR}/client.cc
  ${CMAKE_CURRENT_LIST_DIR}/db_errors.cc
  ${CMAKE_CURRENT_LIST_DIR}/index_upkeep.cc
  ${CMAKE_CURRENT_LIST_DIR}/job_admin.cc
  ${CMAKE_CURRENT_LIST_DIR}/job_request.cc
  ${CMAKE_CURRENT_LIST_DIR}/job_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/queue_admin.cc
  ${CMAKE_CURRENT_LIST_DIR}/schedule_admin.cc
  ${CMAKE_CURRENT_LIST_DIR}/schedule_def.cc
  ${CMAKE_CURRENT_LIST_DIR}/schedule_file.cc
  ${CMAKE_CURRENT_LIST_DIR}/schedule_store.cc
  ${CMAKE_CURRENT_LIST_DIR}/stats.cc
  ${CMAKE_CURRENT_LIST_DIR}/task_coverage.cc
)
