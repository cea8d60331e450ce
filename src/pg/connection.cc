#include "pg/connection.h"

#include <charconv>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>

namespace pgjobs::pg {
namespace {

// "ERROR:  message\nDETAIL: ..." -> "message (DETAIL: ...)" on one line.
std::string CleanMessage(std::string_view what) {
  std::string s(what);
  for (const char* prefix : {"ERROR:  ", "FATAL:  "}) {
    if (s.rfind(prefix, 0) == 0) s.erase(0, std::char_traits<char>::length(prefix));
  }
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

// SQLSTATEs after which the session is gone even though libpqxx reports an
// ordinary SQL error: admin shutdown, crash shutdown, cannot connect now, and
// class 08 (connection exceptions).
bool IsConnectionLoss(const std::string& sqlstate) {
  return sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03" ||
         sqlstate.rfind("08", 0) == 0;
}

std::vector<const char*> CStrings(const Params& params) {
  std::vector<const char*> out;
  out.reserve(params.size());
  for (const Param& p : params) out.push_back(p ? p->c_str() : nullptr);
  return out;
}

}  // namespace

struct Connection::Impl {
  explicit Impl(const std::string& dsn) : conn(dsn) {}
  pqxx::connection conn;
};

// Collects notifications of one channel into the connection's pending list.
class Connection::Receiver : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection& c, const std::string& channel, std::vector<Notification>& sink)
      : pqxx::notification_receiver(c, channel), sink_(sink) {}
  void operator()(const std::string& payload, int) override {
    sink_.push_back(Notification{channel(), payload});
  }

 private:
  std::vector<Notification>& sink_;
};

struct Rows::Data {
  std::shared_ptr<const pqxx::result> result;
  size_t rows = 0;
  size_t columns = 0;
  std::vector<Cell> cells;  // row by row
};

Rows::Rows() = default;
Rows::Rows(std::shared_ptr<const pqxx::result> result) {
  auto data = std::make_shared<Data>();
  data->rows = static_cast<size_t>(result->size());
  data->columns = static_cast<size_t>(result->columns());
  data->cells.reserve(data->rows * data->columns);
  // One field object per row, stepped along it (each copy of a field or row
  // copies the result's shared pointers: atomic operations that dominated).
  const auto columns = static_cast<pqxx::row::size_type>(data->columns);
  const auto rows_end = result->end();
  for (auto row = result->begin(); row != rows_end; ++row) {
    if (columns == 0) continue;
    auto f = row->begin();
    for (pqxx::row::size_type c = 0; c < columns; ++c, ++f) {
      bool null = f->is_null();
      data->cells.push_back(Cell{null ? "" : f->c_str(), null ? 0 : f->size(), null});
    }
  }
  data->result = std::move(result);
  data_ = std::move(data);
}

const Rows::Cell& Rows::At(size_t row, size_t col) const {
  // Outside the result reads as NULL, as libpq's PQgetisnull says.
  static const Cell kOutside{"", 0, true};
  if (!data_ || col >= data_->columns || row >= data_->rows) return kOutside;
  return data_->cells[row * data_->columns + col];
}

size_t Rows::size() const { return data_ ? data_->rows : 0; }
bool Rows::IsNull(size_t row, size_t col) const { return At(row, col).null; }
std::string Rows::Text(size_t row, size_t col) const {
  const Cell& c = At(row, col);
  return std::string(c.text, c.size);
}
int64_t Rows::Int(size_t row, size_t col) const {
  const Cell& c = At(row, col);
  if (c.null) return 0;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(c.text, c.text + c.size, v);
  if (ec == std::errc() && end == c.text + c.size) return v;
  pqxx::from_string(std::string(c.text, c.size).c_str(), v);  // throws, naming the text
  return v;
}
double Rows::Double(size_t row, size_t col) const {
  const Cell& c = At(row, col);
  if (c.null) return 0.0;
  double v = 0;
  auto [end, ec] = std::from_chars(c.text, c.text + c.size, v);
  if (ec == std::errc() && end == c.text + c.size) return v;
  pqxx::from_string(std::string(c.text, c.size).c_str(), v);  // "Infinity", or throws
  return v;
}
bool Rows::Bool(size_t row, size_t col) const {
  const Cell& c = At(row, col);
  if (c.null) return false;
  if (c.size == 1 && (c.text[0] == 't' || c.text[0] == 'f')) return c.text[0] == 't';
  bool v = false;
  pqxx::from_string(std::string(c.text, c.size).c_str(), v);
  return v;
}
size_t Rows::affected() const { return data_ ? data_->result->affected_rows() : 0; }
size_t Rows::columns() const { return data_ ? data_->columns : 0; }
std::string Rows::ColumnName(size_t col) const {
  return data_->result->column_name(static_cast<pqxx::row::size_type>(col));
}

std::string Rows::FirstRowJson() const {
  if (empty()) return "";
  // Type oids of pg_catalog: bool 16, int8 20, int2 21, int4 23, json 114,
  // float4 700, float8 701, numeric 1700, jsonb 3802.
  static const std::set<unsigned> kRaw = {16, 20, 21, 23, 114, 700, 701, 1700, 3802};
  nlohmann::json row = nlohmann::json::object();
  for (size_t c = 0; c < columns(); ++c) {
    if (IsNull(0, c)) {
      row[ColumnName(c)] = nullptr;
      continue;
    }
    std::string text = Text(0, c);
    unsigned type = data_->result->column_type(static_cast<pqxx::row::size_type>(c));
    if (type == 16) {
      row[ColumnName(c)] = text == "t";
      continue;
    }
    nlohmann::json parsed = kRaw.count(type) ? nlohmann::json::parse(text, nullptr, false)
                                             : nlohmann::json(nlohmann::json::value_t::discarded);
    row[ColumnName(c)] = parsed.is_discarded() ? nlohmann::json(text) : parsed;
  }
  return row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<Rows> Tx::Exec(const std::string& statement_name, const Params& params) {
  try {
    std::vector<const char*> values = CStrings(params);
    pqxx::result r =
        tx_.exec_prepared(statement_name, pqxx::prepare::make_dynamic_params(values));
    return Rows(std::make_shared<const pqxx::result>(std::move(r)));
  } catch (...) {
    return conn_.FromCurrentException(statement_name);
  }
}

Result<Rows> Tx::ExecParams(const std::string& sql, const Params& params) {
  try {
    std::vector<const char*> values = CStrings(params);
    pqxx::result r = tx_.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
    return Rows(std::make_shared<const pqxx::result>(std::move(r)));
  } catch (...) {
    return conn_.FromCurrentException("statement");
  }
}

Result<Rows> Tx::ExecSql(const std::string& sql) {
  try {
    return Rows(std::make_shared<const pqxx::result>(tx_.exec(sql)));
  } catch (...) {
    return conn_.FromCurrentException("statement");
  }
}

Connection::Connection(std::string dsn, const SqlCatalog* catalog, std::string application_name)
    : dsn_(WithDefaultConnectTimeout(dsn)),
      catalog_(catalog),
      application_name_(std::move(application_name)) {}

Connection::~Connection() { Disconnect(); }

bool Connection::connected() const { return impl_ != nullptr && impl_->conn.is_open(); }

void Connection::Disconnect() {
  broken_ = false;
  // Close first: receivers removed from a closed connection send no UNLISTEN
  // (which would make libpqxx reconnect behind our back).
  if (impl_) {
    try {
      impl_->conn.disconnect();
    } catch (...) {
      // Closing a broken connection can throw; it is gone either way.
    }
  }
  receivers_.clear();
  impl_.reset();
}

int Connection::BackendPid() const { return connected() ? impl_->conn.backendpid() : 0; }

void Connection::DropIfBroken() {
  if (broken_) Disconnect();
}

Status Connection::EnsureConnected() {
  DropIfBroken();
  if (connected()) return Status::Ok();
  Disconnect();
  try {
    auto impl = std::make_unique<Impl>(dsn_);
    pqxx::connection& c = impl->conn;
    pqxx::nontransaction setup(c);
    setup.exec("SET TimeZone = 'UTC'; SET application_name = " + setup.quote(application_name_));
    if (!session_sql_.empty()) setup.exec(session_sql_);
    setup.commit();
    if (catalog_ != nullptr) {
      for (const auto& [name, sql] : catalog_->statements()) c.prepare(name, sql);
    }
    impl_ = std::move(impl);
    ++connect_count_;
    return Status::Ok();
  } catch (const pqxx::broken_connection& e) {
    return Status::Unavailable("cannot connect to PostgreSQL: " + CleanMessage(e.what()) +
                               "; check the DSN (--dsn or PGJOBS_DSN) and that the server is up");
  } catch (...) {
    return FromCurrentException("connect");
  }
}

Status Connection::FromCurrentException(std::string_view what) {
  retryable_ = false;
  std::string where(what);
  try {
    throw;
  } catch (const pqxx::in_doubt_error& e) {
    broken_ = true;
    return Status::Unavailable(where + ": commit outcome unknown: " + CleanMessage(e.what()));
  } catch (const pqxx::broken_connection& e) {
    broken_ = true;
    return Status::Unavailable(where + ": connection lost: " + CleanMessage(e.what()));
  } catch (const pqxx::transaction_rollback& e) {
    retryable_ = true;
    return Status::Unavailable(where + ": " + CleanMessage(e.what()));
  } catch (const pqxx::unique_violation& e) {
    return Status::AlreadyExists(CleanMessage(e.what()));
  } catch (const pqxx::insufficient_privilege& e) {
    return Status::PermissionDenied(CleanMessage(e.what()));
  } catch (const pqxx::sql_error& e) {
    if (IsConnectionLoss(e.sqlstate())) {
      broken_ = true;
      return Status::Unavailable(where + ": connection lost: " + CleanMessage(e.what()));
    }
    // Class 22 (data exception) and 23 (integrity) are the caller's input.
    if (e.sqlstate().rfind("22", 0) == 0 || e.sqlstate().rfind("23", 0) == 0) {
      return Status::InvalidArgument(CleanMessage(e.what()));
    }
    if (e.sqlstate() == "42501") return Status::PermissionDenied(CleanMessage(e.what()));
    return Status::FailedPrecondition(
        CleanMessage(e.what()) + (e.sqlstate().empty() ? "" : " [SQLSTATE " + e.sqlstate() + "]"));
  } catch (const std::exception& e) {
    if (impl_ && !impl_->conn.is_open()) broken_ = true;
    return Status::Internal(where + ": " + CleanMessage(e.what()));
  }
}

Status Connection::Transact(const std::function<Status(Tx&)>& fn) {
  constexpr int kMaxRuns = 5;
  Status last;
  for (int run = 0; run < kMaxRuns; ++run) {
    PGJOBS_RETURN_IF_ERROR(EnsureConnected());
    retryable_ = false;
    try {
      pqxx::work w(impl_->conn);
      Tx tx(w, *this);
      last = fn(tx);
      if (last.ok()) w.commit();
      // Otherwise w rolls back as it goes out of scope.
    } catch (...) {
      last = FromCurrentException("transaction");
    }
    DropIfBroken();
    if (last.ok() || !retryable_) return last;
  }
  return last;
}

Result<Rows> Connection::Exec(const std::string& statement_name, const Params& params) {
  PGJOBS_RETURN_IF_ERROR(EnsureConnected());
  Result<Rows> result = Status::Internal("not run");
  try {
    pqxx::nontransaction n(impl_->conn);
    std::vector<const char*> values = CStrings(params);
    pqxx::result r = n.exec_prepared(statement_name, pqxx::prepare::make_dynamic_params(values));
    result = Rows(std::make_shared<const pqxx::result>(std::move(r)));
  } catch (...) {
    result = FromCurrentException(statement_name);
  }
  DropIfBroken();
  return result;
}

Result<Rows> Connection::ExecSql(const std::string& sql) {
  PGJOBS_RETURN_IF_ERROR(EnsureConnected());
  Result<Rows> result = Status::Internal("not run");
  try {
    pqxx::nontransaction n(impl_->conn);
    result = Rows(std::make_shared<const pqxx::result>(n.exec(sql)));
  } catch (...) {
    result = FromCurrentException("statement");
  }
  DropIfBroken();
  return result;
}

Status Connection::Listen(const std::string& channel) {
  PGJOBS_RETURN_IF_ERROR(EnsureConnected());
  try {
    receivers_.push_back(std::make_unique<Receiver>(impl_->conn, channel, pending_));
    impl_->conn.get_notifs();
    // libpqxx swallows a failure of the LISTEN it sends; a session that broke
    // meanwhile shows as closed. (LISTEN stays the session's last statement,
    // which is what pg_stat_activity shows for a listener.)
    if (!impl_->conn.is_open()) {
      broken_ = true;
      DropIfBroken();
      return Status::Unavailable("listen " + channel + ": connection lost");
    }
    return Status::Ok();
  } catch (...) {
    Status st = FromCurrentException("listen " + channel);
    DropIfBroken();
    return st;
  }
}

Result<std::vector<Notification>> Connection::WaitForNotifications(
    std::chrono::milliseconds timeout) {
  // Never reconnect here: a new session would not be listening. The caller
  // reconnects through Listen, then polls for what it may have missed.
  DropIfBroken();
  if (!connected() || receivers_.empty()) {
    return Status::Unavailable("wait for notifications: not connected and listening");
  }
  try {
    if (impl_->conn.get_notifs() == 0 && pending_.empty()) {
      long ms = static_cast<long>(std::max<int64_t>(timeout.count(), 0));
      impl_->conn.await_notification(ms / 1000, (ms % 1000) * 1000);
    }
    std::vector<Notification> out;
    out.swap(pending_);
    return out;
  } catch (...) {
    Status st = FromCurrentException("wait for notifications");
    DropIfBroken();
    return st;
  }
}

std::string WithDefaultConnectTimeout(const std::string& dsn) {
  // A dead server is reported in seconds, and a network cut without a reset
  // (TCP keepalives) within a minute rather than after the kernel's minutes.
  // Settings the DSN already has are left alone.
  static const std::pair<const char*, const char*> kDefaults[] = {
      {"connect_timeout", "10"},      {"keepalives_idle", "20"},
      {"keepalives_interval", "10"},  {"keepalives_count", "3"},
      {"tcp_user_timeout", "60000"},
  };
  bool is_uri = dsn.rfind("postgres://", 0) == 0 || dsn.rfind("postgresql://", 0) == 0;
  std::string out = dsn;
  for (const auto& [key, value] : kDefaults) {
    if (dsn.find(key) != std::string::npos) continue;
    std::string setting = std::string(key) + "=" + value;
    if (is_uri) {
      out += (out.find('?') == std::string::npos ? "?" : "&") + setting;
    } else {
      out += (out.empty() ? "" : " ") + setting;
    }
  }
  return out;
}

std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string ArrayLiteral(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(values[i]);
  }
  return out + "}";
}

}  // namespace pgjobs::pg
