# The broker interface is always built; the Redis broker only when hiredis
# was found (PGJOBS_WITH_REDIS, set in src/CMakeLists.txt).
list(APPEND PGJOBS_SOURCES ${CMAKE_CURRENT_LIST_DIR}/broker.cc ${CMAKE_CURRENT_LIST_DIR}/redis_url.cc)
if(PGJOBS_WITH_REDIS)
  list(APPEND PGJOBS_SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/redis_broker.cc
    ${CMAKE_CURRENT_LIST_DIR}/redis_client.cc
    ${CMAKE_CURRENT_LIST_DIR}/relay.cc
  )
endif()
