// `pgjobs web`: the dashboard, the JSON API and /metrics over HTTP (or HTTPS
// with a certificate), served with cpp-httplib from Debian
// (libcpp-httplib-dev). Routes, status codes and headers are listed in the
// README ("Dashboard").
#ifndef PGJOBS_WEB_SERVER_H_
#define PGJOBS_WEB_SERVER_H_

#include <chrono>
#include <memory>
#include <string>

#include "pgjobs/status.h"

namespace pgjobs::web {

// The `web` section of the configuration and the command's options.
struct WebOptions {
  std::string dsn;                     // the admin role's connection string
  std::string schema = "pgjobs";
  std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
  std::string users_file;              // NAME:ROLE:HASH lines (`pgjobs web add-user`); "" none
  std::string token_file;              // ROLE:TOKEN lines; "" none
  std::string tls_cert;                // PEM certificate; with tls_key, serve HTTPS
  std::string tls_key;
  int refresh_seconds = 5;             // how often pages refresh themselves; 0: never
  int connections = 4;                 // database connections (and request threads)
  double metrics_settle_seconds = 10;  // a finished job enters /metrics counters this late
  // Every user, admin role included, may only look: no buttons, 403 on every
  // action. For a dashboard connected with the read-only database role
  // (<schema>_reader), which could not act anyway.
  bool read_only = false;

  // InvalidArgument naming the bad field: listen not HOST:PORT, a non-
  // loopback address without users_file or token_file, one of tls_cert and
  // tls_key without the other, refresh_seconds < 0, connections < 1.
  Status Validate() const;
};

class WebServer {
 public:
  // Checks options, loads the users and tokens, connects, checks the schema
  // and primes /metrics (the one full read of history).
  static Result<std::unique_ptr<WebServer>> Create(const WebOptions& options);
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds; the port is known after this.
  Status Bind();
  int port() const;
  // Serves until Stop (from another thread or a signal handler's thread).
  Status Run();
  // Whether the server answers: a GET of its own /healthz (no database, no
  // authentication) within timeout. systemd's watchdog is fed only while it
  // does, so a server whose request threads all hang is restarted.
  bool Healthy(std::chrono::milliseconds timeout) const;
  void Stop();

 private:
  struct Impl;
  explicit WebServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_SERVER_H_
