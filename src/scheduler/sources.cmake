list(APPEND PGJOBS_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/cron.cc
  ${CMAKE_CURRENT_LIST_DIR}/cron_format.cc
  ${CMAKE_CURRENT_LIST_DIR}/cron_parse.cc
  ${CMAKE_CURRENT_LIST_DIR}/cron_zone.cc
)
list(APPEND PGJOBS_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/schedule_plan.cc
  ${CMAKE_CURRENT_LIST_DIR}/schedule_view.cc
  ${CMAKE_CURRENT_LIST_DIR}/scheduler.cc
)
