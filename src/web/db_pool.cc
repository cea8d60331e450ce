#include "web/db_pool.h"

namespace pgjobs::web {

DbPool::DbPool(std::string dsn, const SqlCatalog& catalog, int size)
    : dsn_(std::move(dsn)), catalog_(catalog) {
  for (int i = 0; i < size; ++i) {
    // No prepared statements: the admin queries are sent with their values.
    idle_.push_back(std::make_unique<pg::Connection>(dsn_, nullptr, "pgjobs web"));
  }
}

std::unique_ptr<DbPool::Lease> DbPool::Borrow() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !idle_.empty(); });
  std::unique_ptr<pg::Connection> conn = std::move(idle_.back());
  idle_.pop_back();
  return std::make_unique<Lease>(*this, std::move(conn));
}

void DbPool::Return(std::unique_ptr<pg::Connection> conn) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

}  // namespace pgjobs::web
