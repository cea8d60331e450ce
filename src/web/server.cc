#include "web/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "common/text.h"
#include "migrate/migrator.h"
#include "store/queue_admin.h"
#include "store/stats.h"
#include "web/actions.h"
#include "web/assets.h"
#include "web/auth.h"
#include "web/db_pool.h"
#include "web/html.h"
#include "web/metrics.h"
#include "web/views.h"

namespace pgjobs::web {

using nlohmann::json;

namespace {

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

bool SplitListen(const std::string& listen, std::string& host, int& port) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  port = std::stoi(p);
  return port <= 65535;
}

int HttpCode(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument: return 400;
    case Status::Code::kNotFound: return 404;
    case Status::Code::kFailedPrecondition:
    case Status::Code::kAlreadyExists: return 409;
    case Status::Code::kUnavailable: return 503;
    case Status::Code::kPermissionDenied:
      return 403;
    default: return 500;
  }
}

std::string Replace(std::string text, const std::string& key, const std::string& value) {
  size_t at = text.find(key);
  if (at != std::string::npos) text.replace(at, key.size(), value);
  return text;
}

// Without authentication the dashboard trusts whoever reaches its loopback
// address, so it must also know that the browser meant this host: a page on
// evil.example that rebinds its name to 127.0.0.1 would otherwise read every
// page (and the CSRF token) and act. Browsers always send Host; only a
// loopback name or the listen address is accepted.
bool HostIsOurs(const std::string& header, const std::string& listen_host) {
  if (header.empty()) return true;  // HTTP/1.0 without Host: not a browser
  std::string host = header;
  if (host.front() == '[') {
    size_t close = host.find(']');
    host = close == std::string::npos ? host : host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':'); colon != std::string::npos) {
    host = host.substr(0, colon);
  }
  // Not IsLoopback: a name such as 127.evil.example must not pass.
  bool loopback_ip = host.rfind("127.", 0) == 0 &&
                     host.find_first_not_of("0123456789.") == std::string::npos;
  return loopback_ip || host == "localhost" || host == "::1" || host == listen_host;
}

void SetSecurityHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "frame-ancestors 'none'; form-action 'self'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "same-origin");
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

Status WebOptions::Validate() const {
  std::string host;
  int port = 0;
  if (!SplitListen(listen, host, port)) {
    return Status::InvalidArgument("listen must be HOST:PORT (e.g. 127.0.0.1:8080), not \"" +
                                   listen + "\"");
  }
  if (!IsLoopback(host) && users_file.empty() && token_file.empty()) {
    return Status::InvalidArgument(
        "listen " + listen + " is not a loopback address: give --users FILE (write it with "
        "`pgjobs web add-user NAME`) or --token-file FILE, or listen on 127.0.0.1");
  }
  if (tls_cert.empty() != tls_key.empty()) {
    return Status::InvalidArgument("tls_cert and tls_key go together: give both or neither");
  }
  if (refresh_seconds < 0) return Status::InvalidArgument("refresh must be 0 (never) or more seconds");
  if (connections < 1 || connections > 64) return Status::InvalidArgument("connections must be 1 to 64");
  if (metrics_settle_seconds < 0 || metrics_settle_seconds > 3600)
    return Status::InvalidArgument("metrics_settle_seconds must be 0 to 3600");
  return Status::Ok();
}

struct WebServer::Impl {
  WebOptions options;
  SqlCatalog catalog;
  Auth auth;
  std::unique_ptr<DbPool> pool;
  Metrics metrics;
  std::unique_ptr<httplib::Server> http;
  std::string host;
  int port = 0;
  std::atomic<bool> stopping{false};

  Impl(WebOptions o, SqlCatalog c, Auth a)
      : options(std::move(o)),
        catalog(std::move(c)),
        auth(std::move(a)),
        metrics(options.metrics_settle_seconds) {}

  // The identity of req, or nullopt after answering 401.
  std::optional<Identity> Authenticate(const httplib::Request& req, httplib::Response& res) {
    auto id = auth.Check(req.get_header_value("Authorization"));
    if (!id) {
      res.status = 401;
      res.set_header("WWW-Authenticate", "Basic realm=\"pgjobs\", charset=\"UTF-8\"");
      res.set_content("authentication required: a user of the users file (basic auth) or a "
                      "bearer token of the token file\n",
                      "text/plain");
    }
    return id;
  }

  void Error(httplib::Response& res, const Status& s, bool as_json) {
    res.status = HttpCode(s);
    if (as_json) {
      res.set_content(json{{"error", s.message()}}.dump(), "application/json");
    } else {
      res.set_content(Layout("Error", "", "<p class=\"error\">" + Escape(s.message()) + "</p>",
                             Identity{}, false),
                      "text/html; charset=utf-8");
    }
  }

  std::string Layout(const std::string& title, const std::string& head,
                     const std::string& content, const Identity& who, bool refresh) {
    const Asset* layout = FindAsset("layout.html");
    std::string page = layout ? layout->text : "{{content}}";
    page = Replace(page, "{{title}}", Escape(title));
    page = Replace(page, "{{csrf}}", Escape(who.name.empty() ? "" : auth.Csrf(who.name)));
    page = Replace(page, "{{refresh}}", refresh ? std::to_string(options.refresh_seconds) : "0");
    page = Replace(page, "{{user}}", Escape(who.name.empty() ? "" : who.name + " (" + who.role + ")"));
    page = Replace(page, "{{h1}}", Escape(title));
    page = Replace(page, "{{head}}", head);
    return Replace(page, "{{content}}", content);
  }

  using DataFn = std::function<Result<json>(ViewContext&)>;
  using PageFn = std::function<Page(const json&, const ViewContext&)>;

  // A page (page != nullptr) or its JSON (page == nullptr).
  void Serve(const httplib::Request& req, httplib::Response& res, const DataFn& data,
             const PageFn& page) {
    SetSecurityHeaders(res);
    auto who = Authenticate(req, res);
    if (!who) return;
    auto lease = pool->Borrow();
    pg::Connection& conn = lease->conn();
    auto now = conn.ExecSql("SELECT extract(epoch FROM now())::float8");
    if (!now.ok()) return Error(res, now.status(), !page);
    ViewContext ctx{conn, catalog, {}, who->role == kRoleAdmin && !options.read_only,
                    now->Double(0, 0)};
    for (const auto& [k, v] : req.params) ctx.query[k] = v;
    auto got = data(ctx);
    if (!got.ok()) return Error(res, got.status(), !page);
    res.set_header("X-CSRF-Token", auth.Csrf(who->name));
    if (!page) {
      res.set_content(got->dump(2, ' ', false, json::error_handler_t::replace), "application/json");
      return;
    }
    Page p = page(*got, ctx);
    if (req.get_param_value("partial") == "1") {
      res.set_content(p.content, "text/html; charset=utf-8");
    } else {
      res.set_content(Layout(p.title, p.head, p.content, *who, options.refresh_seconds > 0),
                      "text/html; charset=utf-8");
    }
  }

  void Act(const httplib::Request& req, httplib::Response& res) {
    SetSecurityHeaders(res);
    auto who = Authenticate(req, res);
    if (!who) return;
    if (options.read_only) {
      res.status = 403;
      res.set_content(json{{"error", "this dashboard is read-only (pgjobs web --read-only): it "
                                     "can see but not act; use the admin CLI or a dashboard "
                                     "started without --read-only"}}.dump(),
                      "application/json");
      return;
    }
    if (who->role != kRoleAdmin) {
      res.status = 403;
      res.set_content(json{{"error", "user " + who->name + " has the read role: it can see but not act"}}.dump(),
                      "application/json");
      return;
    }
    if (!who->bearer && !auth.CsrfValid(who->name, req.get_header_value("X-CSRF-Token"))) {
      res.status = 403;
      res.set_content(json{{"error", "missing or wrong CSRF token: send the X-CSRF-Token header "
                                     "that pages and GET responses carry"}}.dump(),
                      "application/json");
      return;
    }
    std::vector<std::string> path;
    std::string rest = req.path.substr(std::string("/api/").size());
    for (size_t at = 0;;) {
      size_t slash = rest.find('/', at);
      path.push_back(rest.substr(at, slash - at));
      if (slash == std::string::npos) break;
      at = slash + 1;
    }
    std::string by = who->name + "@web";
    auto lease = pool->Borrow();
    auto done = RunAction(lease->conn(), catalog, path, by);
    spdlog::info("dashboard action path={} by={} outcome={}", req.path, by,
                 done.ok() ? "ok" : done.status().message());
    if (!done.ok()) return Error(res, done.status(), true);
    res.set_content(done->dump(), "application/json");
  }

  void Routes();
};

void WebServer::Impl::Routes() {
  auto page = [this](const std::string& pattern, DataFn data, PageFn render) {
    http->Get(pattern, [this, data, render](const httplib::Request& req, httplib::Response& res) {
      Serve(req, res, data, render);
    });
  };
  auto api = [this](const std::string& pattern, DataFn data) {
    http->Get(pattern, [this, data](const httplib::Request& req, httplib::Response& res) {
      Serve(req, res, data, nullptr);
    });
  };
  auto job_id = [](const httplib::Request& req) { return std::stoll(req.matches[1].str()); };
  page("/", OverviewData, OverviewPage);
  page("/jobs", JobsData, JobsPage);
  page("/schedules", SchedulesData, SchedulesPage);
  page("/workers", WorkersData, WorkersPage);
  page("/tasks", TasksData, TasksPage);
  page("/actions", ActionsData, ActionsPage);
  api("/api/?", OverviewData);
  api("/api/jobs", JobsData);
  api("/api/schedules", SchedulesData);
  api("/api/workers", WorkersData);
  api("/api/tasks", TasksData);
  api("/api/actions", ActionsData);
  api("/api/queues", [](ViewContext& c) { return store::ListQueues(c.conn, c.catalog); });
  // As `pgjobs stats --json`: ?since=24h (default 1h), ?queue=Q.
  api("/api/stats", [](ViewContext& c) -> Result<json> {
    double since = 3600;
    std::optional<std::string> queue;
    for (const auto& [key, value] : c.query) {
      if (key == "since") {
        auto d = ParseDuration(value);
        if (!d.ok()) return Status::InvalidArgument("since: " + d.status().message());
        if (d->count() <= 0) return Status::InvalidArgument("since must be positive, e.g. 24h");
        since = static_cast<double>(d->count()) / 1000.0;
      } else if (key == "queue") {
        queue = value;
      } else {
        return Status::InvalidArgument("unknown parameter \"" + key +
                                       "\"; /api/stats takes since (e.g. 24h) and queue");
      }
    }
    auto rows = store::GetStats(c.conn, c.catalog, since, queue);
    if (!rows.ok()) return rows.status();
    return json{{"since_seconds", since}, {"rows", *rows}};
  });
  http->Get(R"(/(api/)?jobs/(\d{1,18}))", [this](const httplib::Request& req, httplib::Response& res) {
    int64_t id = std::stoll(req.matches[2].str());
    Serve(req, res, [id](ViewContext& c) { return JobData(c, id); },
          req.matches[1].length() ? PageFn() : PageFn(JobPage));
  });
  http->Get(R"(/(api/)?schedules/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::string name = req.matches[2].str();
    Serve(req, res, [name](ViewContext& c) { return ScheduleData(c, name); },
          req.matches[1].length() ? PageFn() : PageFn(SchedulePage));
  });
  (void)job_id;
  http->Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    if (!Authenticate(req, res)) return;
    auto lease = pool->Borrow();
    auto text = metrics.Render(lease->conn(), catalog);
    if (!text.ok()) {
      res.status = HttpCode(text.status());
      res.set_content(text.status().message() + "\n", "text/plain");
      return;
    }
    res.set_content(*text, "text/plain; version=0.0.4; charset=utf-8");
  });
  http->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content("ok\n", "text/plain");
  });
  http->Get(R"(/assets/([a-z0-9_.-]+))", [](const httplib::Request& req, httplib::Response& res) {
    const Asset* a = FindAsset(req.matches[1].str());
    if (!a || a->name == "layout.html") {
      res.status = 404;
      return;
    }
    std::string type = a->name.ends_with(".css") ? "text/css" : a->name.ends_with(".js") ? "text/javascript" : "text/plain";
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "max-age=300");
    res.set_content(a->text, type + "; charset=utf-8");
  });
  http->Post(R"(/api/(jobs|queues|schedules)/[^/]+/[a-z]+)",
             [this](const httplib::Request& req, httplib::Response& res) { Act(req, res); });
  http->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (auth.enabled() || HostIsOurs(req.get_header_value("Host"), host)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.status = 421;
    res.set_header("Cache-Control", "no-store");
    res.set_content("this dashboard has no login, so it answers only requests for localhost, "
                    "127.0.0.1, [::1] or its listen address, not for \"" +
                        req.get_header_value("Host") +
                        "\"; open it by one of those, or give it --users FILE or --token-file "
                        "FILE\n",
                    "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  http->set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) {
      res.set_content("no page at " + req.path + ": see / for the overview\n", "text/plain");
    }
  });
}

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebServer::~WebServer() { Stop(); }

Result<std::unique_ptr<WebServer>> WebServer::Create(const WebOptions& options) {
  PGJOBS_RETURN_IF_ERROR(options.Validate());
  auto auth = Auth::Load(options.users_file, options.token_file);
  if (!auth.ok()) return auth.status();
  auto catalog = SqlCatalog::Load(options.schema);
  if (!catalog.ok()) return catalog.status();
  auto impl = std::make_unique<Impl>(options, std::move(*catalog), std::move(*auth));
  SplitListen(options.listen, impl->host, impl->port);
  impl->pool = std::make_unique<DbPool>(options.dsn, impl->catalog, options.connections);
  {
    auto lease = impl->pool->Borrow();
    PGJOBS_RETURN_IF_ERROR(lease->conn().EnsureConnected());
    PGJOBS_RETURN_IF_ERROR(migrate::Migrator(lease->conn(), impl->catalog).CheckCurrent());
    PGJOBS_RETURN_IF_ERROR(impl->metrics.Prime(lease->conn(), impl->catalog));
  }
  if (!options.tls_cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(options.tls_cert.c_str(), options.tls_key.c_str());
    if (!ssl->is_valid()) {
      return Status::InvalidArgument("cannot load the TLS certificate " + options.tls_cert +
                                     " or key " + options.tls_key + " (PEM files expected)");
    }
    impl->http = std::move(ssl);
  } else {
    impl->http = std::make_unique<httplib::Server>();
  }
  // cpp-httplib's default sets SO_REUSEPORT, so a second dashboard on the
  // same port started without error and the kernel split the requests (and
  // the /healthz probes) between the two. Only SO_REUSEADDR: a port in use
  // is an error.
  impl->http->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
  });
  int threads = options.connections;
  impl->http->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl->Routes();
  return std::unique_ptr<WebServer>(new WebServer(std::move(impl)));
}

Status WebServer::Bind() {
  if (impl_->port == 0) {
    impl_->port = impl_->http->bind_to_any_port(impl_->host.c_str());
    if (impl_->port < 0) return Status::Unavailable("cannot listen on " + impl_->options.listen);
  } else if (!impl_->http->bind_to_port(impl_->host.c_str(), impl_->port)) {
    return Status::Unavailable("cannot listen on " + impl_->options.listen +
                               " (in use, or a privileged port?)");
  }
  return Status::Ok();
}

int WebServer::port() const { return impl_->port; }

Status WebServer::Run() {
  if (!impl_->http->listen_after_bind() && !impl_->stopping) {
    return Status::Unavailable("the HTTP server stopped listening on " + impl_->options.listen);
  }
  return Status::Ok();
}

bool WebServer::Healthy(std::chrono::milliseconds timeout) const {
  if (!impl_->http || !impl_->http->is_running()) return false;
  std::string host = impl_->host == "0.0.0.0" || impl_->host == "::" ? "127.0.0.1" : impl_->host;
  auto probe = [&](auto& client) {
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    auto res = client.Get("/healthz");
    return res && res->status == 200;
  };
  if (!impl_->options.tls_cert.empty()) {
    httplib::SSLClient client(host, impl_->port);
    client.enable_server_certificate_verification(false);  // our own certificate
    return probe(client);
  }
  httplib::Client client(host, impl_->port);
  return probe(client);
}

void WebServer::Stop() {
  impl_->stopping = true;
  if (impl_->http) impl_->http->stop();
}

}  // namespace pgjobs::web
