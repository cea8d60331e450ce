// `pgjobs web`: the dashboard, JSON API and /metrics; `pgjobs web add-user`
// writes the users file.
#include <spdlog/spdlog.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/daemon.h"
#include "common/text.h"
#include "web/auth.h"
#include "web/server.h"

namespace pgjobs::cli {
namespace {

struct WebFlags {
  web::WebOptions options;
  std::string log_level;
  CLI::App* cmd = nullptr;  // to tell the options given on the command line
};

// The configuration file's "web" section, under the options given on the
// command line: {"listen", "users", "token_file", "tls_cert", "tls_key",
// "refresh", "connections", "read_only"}.
Status ApplyWebSection(const std::string& text, WebFlags& flags) {
  if (text.empty()) return Status::Ok();
  static const std::vector<std::string> kKeys = {"listen",  "users",   "token_file", "tls_cert",
                                                 "tls_key", "refresh", "connections",
                                                 "read_only"};
  nlohmann::json web = nlohmann::json::parse(text);
  web::WebOptions& o = flags.options;
  for (const auto& [key, value] : web.items()) {
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      return UnknownKeyError(key, kKeys, "web: ");
    }
    std::string option = key == "users" || key == "refresh" || key == "connections" ||
                                 key == "listen"
                             ? "--" + key
                             : "--" + std::string(key == "token_file" ? "token-file"
                                                  : key == "tls_cert" ? "tls-cert"
                                                  : key == "read_only" ? "read-only"
                                                                      : "tls-key");
    if (flags.cmd->count(option) > 0) continue;  // the command line wins
    bool number = key == "refresh" || key == "connections";
    bool boolean = key == "read_only";
    if (boolean ? !value.is_boolean()
                : number ? !value.is_number_integer() : !value.is_string()) {
      return Status::InvalidArgument("web." + key + " must be " +
                                     (boolean  ? "true or false"
                                      : number ? "a whole number"
                                               : "a string"));
    }
    if (key == "read_only") o.read_only = value.get<bool>();
    if (key == "listen") o.listen = value.get<std::string>();
    if (key == "users") o.users_file = value.get<std::string>();
    if (key == "token_file") o.token_file = value.get<std::string>();
    if (key == "tls_cert") o.tls_cert = value.get<std::string>();
    if (key == "tls_key") o.tls_key = value.get<std::string>();
    if (key == "refresh") o.refresh_seconds = value.get<int>();
    if (key == "connections") o.connections = value.get<int>();
  }
  return Status::Ok();
}

int RunWeb(GlobalOptions& global, WebFlags& flags) {
  if (!flags.log_level.empty()) {
    Status level = CheckLogLevel(flags.log_level);
    if (!level.ok()) return Fail(level);
  }
  auto config = LoadDaemonConfig(global);
  if (!config.ok()) return Fail(config.status());
  Status st = ApplyWebSection(config->web, flags);
  if (!st.ok()) return Fail(AsBadInput(st));
  SetUpLogging(flags.log_level.empty() ? config->log_level : flags.log_level);
  flags.options.dsn = config->dsn;
  flags.options.schema = config->schema;
  if (Status v = flags.options.Validate(); !v.ok()) return Fail(AsBadInput(v));
  BlockStopSignals();
  auto server = web::WebServer::Create(flags.options);
  if (!server.ok()) return FailStart(server.status().WithContext("web"));
  st = (*server)->Bind();
  if (!st.ok()) return Fail(st);
  std::string host = flags.options.listen.substr(0, flags.options.listen.rfind(':'));
  spdlog::info("dashboard listening url={}://{}:{}/ auth={}{}",
               flags.options.tls_cert.empty() ? "http" : "https", host, (*server)->port(),
               flags.options.users_file.empty() && flags.options.token_file.empty() ? "none"
                                                                                    : "required",
               flags.options.read_only ? " read_only=true" : "");
  Status run_status;
  std::thread serve([&] { run_status = (*server)->Run(); });
  NotifySystemd("READY=1");
  std::atomic<bool> done{false};
  WatchStopSignals(
      [&](int) {
        NotifySystemd("STOPPING=1");
        (*server)->Stop();
        done = true;
      },
      done,
      [&] {
        if ((*server)->Healthy(std::chrono::seconds(5))) return true;
        spdlog::warn("dashboard does not answer its own /healthz within 5 s; not feeding the "
                     "systemd watchdog");
        return false;
      });
  serve.join();
  if (!run_status.ok()) return Fail(run_status);
  spdlog::info("dashboard stopped");
  return kExitOk;
}

// The password: the first line of standard input, read without echo from a
// terminal.
std::string ReadPassword() {
  bool tty = ::isatty(STDIN_FILENO);
  termios old {};
  if (tty) {
    std::fprintf(stderr, "password: ");
    ::tcgetattr(STDIN_FILENO, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string password;
  std::getline(std::cin, password);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  return password;
}

int RunAddUser(const std::string& name, const std::string& role, const std::string& file) {
  if (file.empty()) {
    return Fail(Status::InvalidArgument("--users FILE is required (e.g. /etc/pgjobs/web-users)"));
  }
  Status st = web::AddUser(file, name, role, ReadPassword());
  if (!st.ok()) return Fail(st);
  std::printf("user %s (%s) written to %s; give the file to `pgjobs web --users %s`\n",
              name.c_str(), role.c_str(), file.c_str(), file.c_str());
  return kExitOk;
}

}  // namespace

void AddWebCommand(CLI::App& app, GlobalOptions& global, int& exit_code) {
  auto flags = std::make_shared<WebFlags>();
  CLI::App* cmd = app.add_subcommand(
      "web", "serve the dashboard, the JSON API (/api/) and Prometheus metrics (/metrics)");
  web::WebOptions& o = flags->options;
  cmd->add_option("--listen", o.listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  cmd->add_option("--users", o.users_file,
                  "users file (NAME:ROLE:HASH lines, from `pgjobs web add-user`): basic auth");
  cmd->add_option("--token-file", o.token_file, "bearer tokens, ROLE:TOKEN lines");
  cmd->add_option("--tls-cert", o.tls_cert, "PEM certificate: serve HTTPS (with --tls-key)");
  cmd->add_option("--tls-key", o.tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--refresh", o.refresh_seconds,
                  "seconds between the pages' refreshes (default 5; 0: never)");
  cmd->add_option("--connections", o.connections,
                  "database connections and request threads (default 4)");
  cmd->add_flag("--read-only", o.read_only,
                "nobody may act, whatever their role (connect as the <schema>_reader role)");
  cmd->add_option("--log-level", flags->log_level, "trace, debug, info, warn or error");
  flags->cmd = cmd;
  cmd->callback([&global, &exit_code, flags, cmd] {
    if (cmd->get_subcommands().empty()) exit_code = RunWeb(global, *flags);
  });

  auto name = std::make_shared<std::string>();
  auto role = std::make_shared<std::string>("admin");
  auto file = std::make_shared<std::string>();
  CLI::App* add = cmd->add_subcommand(
      "add-user", "add or replace a dashboard user; the password is read from standard input");
  add->add_option("NAME", *name, "user name")->required();
  add->add_option("--role", *role, "admin (sees and acts) or read (sees only); default admin");
  add->add_option("--users", *file, "the users file to write (created with mode 600)");
  add->callback([&exit_code, name, role, file] { exit_code = RunAddUser(*name, *role, *file); });
}

}  // namespace pgjobs::cli
