#include "tests/faults/fault_support.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

constexpr char kPgBin[] = "/usr/lib/postgresql/15/bin";

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + ".XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return tmpl;
}

std::string AsOwner() { return geteuid() == 0 ? "runuser -u " + ClusterOwner() + " -- " : ""; }

}  // namespace

std::string Binary() {
  const char* v = std::getenv("PGJOBS_FAULTS_BINARY");
  return v != nullptr && *v ? v : testing::BinaryPath();
}

bool Long() {
  const char* v = std::getenv("PGJOBS_FAULTS");
  return v != nullptr && std::string(v) == "long";
}

Figures::~Figures() { Print(); }

void Figures::Set(const std::string& key, const std::string& value) {
  for (auto& kv : values_) {
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  }
  values_.emplace_back(key, value);
}

void Figures::Set(const std::string& key, double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  Set(key, std::string(buf));
}

void Figures::Print() {
  if (printed_) return;
  printed_ = true;
  std::string line = "FIGURES " + scenario_ + (Long() ? " (long):" : " (short):");
  for (const auto& [k, v] : values_) line += " " + k + "=" + v;
  std::cout << line << std::endl;
  if (const char* report = std::getenv("PGJOBS_FAULTS_REPORT"); report != nullptr && *report) {
    std::ofstream(report, std::ios::app) << line << "\n";
  }
}

double WallSeconds() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration<double>(now).count();
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  return values[static_cast<size_t>(std::lround(rank))];
}

std::string Join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

std::string Shell(const std::string& command, bool with_stderr) {
  std::string full = with_stderr ? command + " 2>&1" : command;
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) out.append(buf, n);
  int rc = pclose(pipe);
  if (rc != 0) throw std::runtime_error(command + " failed (" + std::to_string(rc) + "): " + out);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ClusterOwner() {
  if (geteuid() == 0) {
    const char* user = std::getenv("PG_THROWAWAY_USER");
    return user != nullptr && *user ? user : "postgres";
  }
  return Shell("id -un");
}

// ------------------------------------------------------------ clusters ----

OwnCluster::OwnCluster(int tcp_port) : dir_(MakeTempDir("pgjobs-fault")), port_(tcp_port) {
  Start();
}

OwnCluster::~OwnCluster() {
  try {
    Tool("destroy");
  } catch (...) {
  }
  std::system(("rm -rf " + dir_).c_str());
}

std::string OwnCluster::Tool(const std::string& verb, const std::string& extra) {
  return Shell(testing::SourceDir() + "/tools/pg-throwaway " + verb + " " + dir_ + " " + extra +
                   " 2>/dev/null",
               false);
}

void OwnCluster::StopImmediate() { Tool("stop", "--immediate"); }
void OwnCluster::StopFast() { Tool("stop"); }
void OwnCluster::Start() {
  dsn_ = Tool("start", port_ != 0 ? "--port " + std::to_string(port_) : "");
}

std::string OwnCluster::ClusterDir() const {
  std::ifstream state(dir_ + "/pg-throwaway.state");
  for (std::string line; std::getline(state, line);) {
    if (line.rfind("data=", 0) == 0) {
      std::string data = line.substr(5);
      return data.substr(0, data.rfind('/'));
    }
  }
  throw std::runtime_error("no data= in the state file of " + dir_);
}

Standby::Standby(const OwnCluster& primary, int port)
    : dir_(MakeTempDir("pgjobs-standby")), port_(port) {
  chmod(dir_.c_str(), 0755);
  if (geteuid() == 0) Shell("chown " + ClusterOwner() + ": " + dir_);
  Shell(AsOwner() + "mkdir -m 755 " + dir_ + "/socket");
  Shell(AsOwner() + kPgBin + "/pg_basebackup -h 127.0.0.1 -p " + std::to_string(primary.port()) +
        " -U pgjobs -D " + dir_ + "/data -R -X stream -c fast");
  PgCtl("start -w -t 60 -l " + dir_ + "/postgres.log -o \"-p " + std::to_string(port_) +
        " -c listen_addresses=127.0.0.1 -c unix_socket_directories=" + dir_ +
        "/socket -c cluster_name=pgjobs-standby\"");
  dsn_ = "host=" + dir_ + "/socket port=" + std::to_string(port_) + " user=pgjobs dbname=pgjobs";
}

Standby::~Standby() {
  try {
    PgCtl("stop -m immediate -w");
  } catch (...) {
  }
  std::system(("rm -rf " + dir_).c_str());
}

std::string Standby::PgCtl(const std::string& args) {
  return Shell(AsOwner() + kPgBin + "/pg_ctl -D " + dir_ + "/data " + args);
}

void Standby::Promote() { PgCtl("promote -w -t 60"); }
void Standby::StopImmediate() { PgCtl("stop -m immediate -w"); }

// ---------------------------------------------------------------- SQL ----

std::string Q(const std::string& dsn, const std::string& sql) {
  pg::Connection conn(dsn, nullptr, "faults checker");
  auto rows = conn.ExecSql(sql);
  if (!rows.ok()) {
    ADD_FAILURE() << sql << ": " << rows.status().message();
    return "";
  }
  return rows->empty() || rows->columns() == 0 ? "" : rows->Text(0, 0);
}

bool TryExecute(const std::string& dsn, const std::string& sql, std::string* error) {
  pg::Connection conn(dsn, nullptr, "faults checker");
  auto rows = conn.ExecSql(sql);
  if (!rows.ok() && error != nullptr) *error = rows.status().message();
  return rows.ok();
}

void Migrate(const std::string& dsn, const std::string& schema) {
  auto catalog = SqlCatalog::Load(schema);
  if (!catalog.ok()) throw std::runtime_error(catalog.status().message());
  pg::Connection conn(dsn, nullptr, "faults checker");
  auto applied = migrate::Migrator(conn, *catalog).Apply();
  if (!applied.ok()) throw std::runtime_error(applied.status().message());
}

std::vector<int64_t> InsertJobs(const std::string& dsn, const std::string& schema, int count,
                                const std::string& task) {
  std::vector<int64_t> ids;
  pg::Connection conn(dsn, nullptr, "faults checker");
  for (int done = 0; done < count; done += 1000) {
    int n = std::min(1000, count - done);
    auto rows = conn.ExecSql("INSERT INTO " + schema + ".jobs (task) SELECT '" + task +
                             "' FROM generate_series(1, " + std::to_string(n) + ") RETURNING id");
    if (!rows.ok()) throw std::runtime_error(rows.status().message());
    for (size_t i = 0; i < rows->size(); ++i) ids.push_back(rows->Int(i, 0));
  }
  return ids;
}

Producer::Producer(std::string dsn) : dsn_(std::move(dsn)) {
  thread_ = std::thread([this] { Loop(); });
}

Producer::~Producer() { Stop(); }

void Producer::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Producer::Loop() {
  pg::Connection conn(dsn_, nullptr, "faults producer");
  while (!stop_) {
    std::vector<int64_t> ids;
    Status st = conn.Transact([&](pg::Tx& tx) -> Status {
      ids.clear();
      auto rows = tx.ExecSql(
          "INSERT INTO pgjobs.jobs (task) SELECT 'rec' FROM generate_series(1, 2) RETURNING id");
      if (!rows.ok()) return rows.status();
      for (size_t i = 0; i < rows->size(); ++i) ids.push_back(rows->Int(i, 0));
      return Status::Ok();
    });
    if (st.ok()) {
      acked.insert(ids.begin(), ids.end());
    } else {
      unsure.insert(ids.begin(), ids.end());  // empty if the insert itself failed
      ++failed_commits;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::set<int64_t> Ids(const std::string& dsn, const std::string& sql) {
  std::set<int64_t> out;
  pg::Connection conn(dsn, nullptr, "faults checker");
  auto rows = conn.ExecSql(sql);
  if (!rows.ok()) {
    ADD_FAILURE() << sql << ": " << rows.status().message();
    return out;
  }
  for (size_t i = 0; i < rows->size(); ++i) out.insert(rows->Int(i, 0));
  return out;
}

// ------------------------------------------------------------ scratch ----

Scratch::Scratch() : path_(MakeTempDir("pgjobs-faults")) { chmod(path_.c_str(), 0755); }

Scratch::~Scratch() {
  if (std::getenv("PGJOBS_FAULTS_KEEP") == nullptr) std::system(("rm -rf " + path_).c_str());
}

std::string Scratch::RecordScript(double sleep_seconds) {
  std::string path = File("record-" + std::to_string(std::lround(sleep_seconds * 1000)) + ".sh");
  std::ofstream out(path);
  out << "#!/bin/sh\n"
      << "printf '%s %s %s %s\\n' \"$PGJOBS_JOB_ID\" \"$PGJOBS_ATTEMPT\" \"$TAG\" "
         "\"$(date +%s.%N)\" >> "
      << JobLog() << "\n";
  if (sleep_seconds > 0) out << "exec sleep " << sleep_seconds << "\n";
  out.close();
  chmod(path.c_str(), 0755);
  return path;
}

std::vector<JobRun> ReadJobLog(const std::string& path) {
  std::vector<JobRun> runs;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    JobRun run;
    if (fields >> run.job_id >> run.attempt >> run.tag >> run.started) runs.push_back(run);
  }
  return runs;
}

std::map<int64_t, int> RunsPerJob(const std::vector<JobRun>& runs) {
  std::map<int64_t, int> out;
  for (const JobRun& r : runs) ++out[r.job_id];
  return out;
}

// ------------------------------------------------------------ processes ----

std::unique_ptr<testing::ChildProcess> StartWorker(const Scratch& scratch, const WorkerSpec& spec) {
  std::string config = scratch.File("worker-" + spec.tag + ".conf");
  std::ofstream(config) << "{\"dsn\": \"" << spec.dsn << "\", \"schema\": \"" << spec.schema
                        << "\",\n \"worker\": {\"queues\": {\"default\": " << spec.concurrency
                        << "}, \"lease\": \"" << spec.lease << "\", \"rescue_interval\": \""
                        << spec.rescue_interval << "\", \"worker_id\": \"" << spec.tag << "\""
                        << spec.extra << "},\n \"tasks\": "
                        << (spec.tasks.empty()
                                ? "{\"rec\": {\"kind\": \"command\", \"command\": [\"" +
                                      spec.script + "\"], \"env\": {\"TAG\": \"" + spec.tag +
                                      "\"}}}"
                                : spec.tasks)
                        << "}\n";
  std::vector<std::string> argv = spec.prefix;
  argv.insert(argv.end(), {Binary(), "worker", "--config", config});
  return std::make_unique<testing::ChildProcess>(argv, scratch.File("worker-" + spec.tag + ".log"),
                                                 spec.env);
}

std::unique_ptr<testing::ChildProcess> StartScheduler(const Scratch& scratch,
                                                      const std::string& dsn,
                                                      const std::string& schema,
                                                      const std::string& tag,
                                                      const std::string& extra) {
  std::string config = scratch.File("scheduler-" + tag + ".conf");
  std::ofstream(config) << "{\"dsn\": \"" << dsn << "\", \"schema\": \"" << schema
                        << "\",\n \"scheduler\": {\"leader_lease\": \"3s\", \"max_sleep\": \"1s\", "
                        << "\"rescue_interval\": \"1s\"" << extra << "}}\n";
  return std::make_unique<testing::ChildProcess>(
      std::vector<std::string>{Binary(), "scheduler", "--config", config},
      scratch.File("scheduler-" + tag + ".log"));
}

void KillNine(testing::ChildProcess& process) {
  kill(-process.pid(), SIGKILL);
  process.Signal(SIGKILL);
  process.Wait(std::chrono::seconds(5));
}

}  // namespace pgjobs::faults
