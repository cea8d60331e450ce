// A few database connections shared by the web server's request threads.
// Each request borrows one for its duration (a Connection belongs to one
// thread at a time) and gives it back; a broken one reconnects on its next use.
#ifndef PGJOBS_WEB_DB_POOL_H_
#define PGJOBS_WEB_DB_POOL_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "pg/connection.h"

namespace pgjobs::web {

class DbPool {
 public:
  // catalog must outlive the pool. size: connections at most (default 4).
  DbPool(std::string dsn, const SqlCatalog& catalog, int size);
  DbPool(const DbPool&) = delete;
  DbPool& operator=(const DbPool&) = delete;

  // A borrowed connection, returned to the pool on destruction.
  class Lease {
   public:
    Lease(DbPool& pool, std::unique_ptr<pg::Connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    ~Lease() { pool_.Return(std::move(conn_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    pg::Connection& conn() { return *conn_; }

   private:
    DbPool& pool_;
    std::unique_ptr<pg::Connection> conn_;
  };

  // Waits for a free connection.
  std::unique_ptr<Lease> Borrow();
  const SqlCatalog& catalog() const { return catalog_; }

 private:
  void Return(std::unique_ptr<pg::Connection> conn);

  std::string dsn_;
  const SqlCatalog& catalog_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pg::Connection>> idle_;  // guarded by mu_
};

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_DB_POOL_H_
