list(APPEND PGJOBS_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/builtin_tasks.cc
  ${CMAKE_CURRENT_LIST_DIR}/command_runner.cc
  ${CMAKE_CURRENT_LIST_DIR}/completer.cc
  ${CMAKE_CURRENT_LIST_DIR}/config.cc
  ${CMAKE_CURRENT_LIST_DIR}/executor_pool.cc
  ${CMAKE_CURRENT_LIST_DIR}/fetcher.cc
  ${CMAKE_CURRENT_LIST_DIR}/job_tracker.cc
  ${CMAKE_CURRENT_LIST_DIR}/maintainer.cc
  ${CMAKE_CURRENT_LIST_DIR}/outcome_log.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_launch.cc
  ${CMAKE_CURRENT_LIST_DIR}/program_path.cc
  ${CMAKE_CURRENT_LIST_DIR}/runner_pool.cc
  ${CMAKE_CURRENT_LIST_DIR}/runner_process.cc
  ${CMAKE_CURRENT_LIST_DIR}/runner_protocol.cc
  ${CMAKE_CURRENT_LIST_DIR}/worker.cc
)
