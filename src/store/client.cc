#include "pgjobs/client.h"

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "store/job_store.h"

namespace pgjobs {

struct Client::Impl {
  explicit Impl(SqlCatalog c, const std::string& dsn)
      : catalog(std::move(c)), conn(dsn, &catalog, "pgjobs client") {}
  SqlCatalog catalog;
  pg::Connection conn;
};

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::Open(const ClientOptions& options) {
  auto catalog = SqlCatalog::Load(options.schema);
  if (!catalog.ok()) return catalog.status();
  auto impl = std::make_unique<Impl>(std::move(*catalog), options.dsn);
  PGJOBS_RETURN_IF_ERROR(impl->conn.EnsureConnected());
  PGJOBS_RETURN_IF_ERROR(migrate::Migrator(impl->conn, impl->catalog).CheckCurrent());
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

Result<int64_t> Client::Enqueue(const JobRequest& request) {
  return store::Enqueue(impl_->conn, request);
}

Result<std::vector<int64_t>> Client::EnqueueMany(const std::vector<JobRequest>& requests) {
  return store::EnqueueMany(impl_->conn, requests);
}

}  // namespace pgjobs
