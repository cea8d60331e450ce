// The only code that touches libpqxx. Everything above it speaks in Status,
// Params and Rows, so a libpqxx upgrade stays local to this folder.
//
// A Connection belongs to one thread at a time. It connects lazily, prepares
// the catalog's statements on every (re)connect, and classifies failures once:
//   - broken connection (also admin shutdown, pg_terminate_backend): the call
//     returns Unavailable and the next call reconnects; callers back off.
//   - serialization failure or deadlock: Transact reruns the function.
//   - commit outcome unknown: Unavailable, never retried here.
//   - unique violation: AlreadyExists. Check violations and bad values:
//     InvalidArgument with PostgreSQL's message.
#ifndef PGJOBS_PG_CONNECTION_H_
#define PGJOBS_PG_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sql_catalog.h"
#include "pgjobs/status.h"

namespace pqxx {
class result;
class transaction_base;
}  // namespace pqxx

namespace pgjobs::pg {

// A statement parameter in text form; nullopt is SQL NULL.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;

// A query result. Cheap to copy (shared). Where each field's text lies is
// read once, when the result arrives: libpqxx 6.4 copies the result's two
// shared pointers for every field it hands out, which cost a claiming
// worker a sixth of its CPU.
class Rows {
 public:
  Rows();
  explicit Rows(std::shared_ptr<const pqxx::result> result);
  size_t size() const;
  bool empty() const { return size() == 0; }
  bool IsNull(size_t row, size_t col) const;
  // The text of a field; "" for NULL.
  std::string Text(size_t row, size_t col) const;
  int64_t Int(size_t row, size_t col) const;  // 0 for NULL
  double Double(size_t row, size_t col) const;  // 0 for NULL
  bool Bool(size_t row, size_t col) const;  // false for NULL
  // Rows changed by an UPDATE/DELETE/INSERT without RETURNING.
  size_t affected() const;
  size_t columns() const;
  std::string ColumnName(size_t col) const;
  // The first row as a JSON object text; numbers, booleans and json/jsonb
  // columns keep their type, everything else is a string. "" when empty.
  std::string FirstRowJson() const;

 private:
  struct Cell {
    const char* text = nullptr;  // into the result, which `data_` keeps alive
    size_t size = 0;
    bool null = true;
  };
  struct Data;
  const Cell& At(size_t row, size_t col) const;

  std::shared_ptr<const Data> data_;
};

struct Notification {
  std::string channel;
  std::string payload;
};

class Connection;

// Statements run inside one transaction of Connection::Transact.
class Tx {
 public:
  Result<Rows> Exec(const std::string& statement_name, const Params& params);
  Result<Rows> ExecSql(const std::string& sql);
  // An unprepared statement with parameters.
  Result<Rows> ExecParams(const std::string& sql, const Params& params);

 private:
  friend class Connection;
  Tx(pqxx::transaction_base& tx, Connection& conn) : tx_(tx), conn_(conn) {}
  pqxx::transaction_base& tx_;
  Connection& conn_;
};

class Connection {
 public:
  // catalog may be null (nothing is prepared) and must outlive the connection.
  Connection(std::string dsn, const SqlCatalog* catalog, std::string application_name);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects if not connected. Unavailable, with libpq's reason, if it cannot.
  Status EnsureConnected();
  bool connected() const;
  void Disconnect();
  // The server process id, 0 when not connected.
  int BackendPid() const;

  // Runs fn in one transaction, committing when it returns ok and rolling
  // back otherwise. Reruns fn on serialization failure or deadlock.
  Status Transact(const std::function<Status(Tx&)>& fn);
  // One prepared statement in its own transaction.
  Result<Rows> Exec(const std::string& statement_name, const Params& params);
  // One unprepared statement in its own transaction (DDL, SET, ...).
  Result<Rows> ExecSql(const std::string& sql);

  // LISTEN on channel; kept across reconnects only if called again (callers
  // re-LISTEN after every reconnect and then poll, as the protocol says).
  Status Listen(const std::string& channel);
  // Waits up to timeout for notifications and returns those that arrived.
  Result<std::vector<Notification>> WaitForNotifications(std::chrono::milliseconds timeout);

  // SQL run on every (re)connect after the standard settings, e.g.
  // "SET synchronous_commit = off". Call before the first use.
  void SetSessionSql(std::string sql) { session_sql_ = std::move(sql); }

  // How many times this object has (re)connected.
  int connect_count() const { return connect_count_; }

 private:
  friend class Tx;
  class Receiver;
  // Converts the exception being handled into a Status, marking the
  // connection broken when it is. Call only inside a catch block. The
  // connection itself is dropped later, by DropIfBroken, once no transaction
  // object refers to it any more.
  Status FromCurrentException(std::string_view what);
  void DropIfBroken();

  std::string dsn_;
  const SqlCatalog* catalog_;
  std::string application_name_;
  std::string session_sql_;
  struct Impl;  // holds the pqxx::connection
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::vector<Notification> pending_;
  int connect_count_ = 0;
  bool retryable_ = false;  // the last error was a serialization failure or deadlock
  bool broken_ = false;     // the session is gone; reconnect before the next use
};

// Adds to a DSN the settings it lacks among connect_timeout=10 and TCP
// keepalives (idle 20 s, interval 10 s, count 3, tcp_user_timeout 60 s), so
// that a dead server or a silent network cut is noticed within a minute.
std::string WithDefaultConnectTimeout(const std::string& dsn);

// Renders values as a PostgreSQL array literal ('{"a","b"}'), quoting each.
std::string ArrayLiteral(const std::vector<std::string>& values);
std::string ArrayLiteral(const std::vector<int64_t>& values);

}  // namespace pgjobs::pg

#endif  // PGJOBS_PG_CONNECTION_H_
