// Support for the fault suite (tests/faults/): clusters of its own that can
// be crashed and replicated, pgjobs processes started from a generated
// configuration, the log every test job writes when it runs, and the figures
// each scenario prints.
//
// Every scenario has a short size (the default, part of ctest) and a long
// size (PGJOBS_FAULTS=long, run by tools/faults), chosen by Long().
#ifndef PGJOBS_TESTS_FAULTS_FAULT_SUPPORT_H_
#define PGJOBS_TESTS_FAULTS_FAULT_SUPPORT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/child_process.h"

namespace pgjobs::faults {

// True when PGJOBS_FAULTS=long: the sizes the README's figures come from.
bool Long();
// The pgjobs binary the scenarios run: PGJOBS_FAULTS_BINARY, else the built one.
std::string Binary();
// Short or long size.
template <typename T>
T Size(T short_size, T long_size) {
  return Long() ? long_size : short_size;
}

// Figures of one scenario, printed as one line "FIGURES name: k=v k=v" and,
// when PGJOBS_FAULTS_REPORT names a file, appended to it the same way.
class Figures {
 public:
  explicit Figures(std::string scenario) : scenario_(std::move(scenario)) {}
  ~Figures();
  void Set(const std::string& key, const std::string& value);
  void Set(const std::string& key, int64_t value) { Set(key, std::to_string(value)); }
  void Set(const std::string& key, double value, int decimals = 2);
  void Print();

 private:
  std::string scenario_;
  std::vector<std::pair<std::string, std::string>> values_;
  bool printed_ = false;
};

// Seconds since an arbitrary start, from the wall clock, with sub-millisecond
// precision: the job log's time stamps (date +%s.%N) are in the same clock.
double WallSeconds();
double Percentile(std::vector<double> values, double p);  // p in [0, 100]
std::string Join(const std::vector<std::string>& items, const std::string& sep);

// A PostgreSQL cluster of the scenario's own, started with tools/pg-throwaway
// in its durable mode (fsync and synchronous_commit on), so that an immediate
// stop loses exactly what a crash would.
class OwnCluster {
 public:
  // tcp_port 0: unix socket only.
  explicit OwnCluster(int tcp_port = 0);
  ~OwnCluster();
  const std::string& dsn() const { return dsn_; }
  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  void StopImmediate();
  void StopFast();
  void Start();
  // The directory holding the data directory and socket (root: /tmp/pgjobs-pg.*).
  std::string ClusterDir() const;

 private:
  std::string Tool(const std::string& verb, const std::string& extra = "");
  std::string dir_;
  std::string dsn_;
  int port_;
};

// A streaming-replication standby of an OwnCluster started with a TCP port,
// made with pg_basebackup -R and run with pg_ctl as the cluster's owner.
class Standby {
 public:
  Standby(const OwnCluster& primary, int port);
  ~Standby();
  const std::string& dsn() const { return dsn_; }
  int port() const { return port_; }
  void Promote();
  void StopImmediate();

 private:
  std::string PgCtl(const std::string& args);
  std::string dir_;  // holds data/, socket/, postgres.log
  std::string dsn_;
  int port_;
};

// Runs a shell command line and returns its output (stdout, and stderr too
// if with_stderr); throws with the output when it fails.
std::string Shell(const std::string& command, bool with_stderr = true);
// A TCP port that was free a moment ago on 127.0.0.1.
int FreePort();
// The user a PostgreSQL cluster runs as: "postgres" as root, else ourselves.
std::string ClusterOwner();

// One row and column of sql as text ("" when empty); fails the test on error.
std::string Q(const std::string& dsn, const std::string& sql);
// Runs sql; returns false (and no failure) when the server cannot be reached.
bool TryExecute(const std::string& dsn, const std::string& sql, std::string* error = nullptr);

// A scratch directory with the job log, configurations and process logs.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // The script a "rec" task runs: appends "job_id attempt tag start_time" to
  // the job log, then sleeps for sleep_seconds (if > 0).
  std::string RecordScript(double sleep_seconds);
  std::string JobLog() const { return File("jobs.log"); }

 private:
  std::string path_;
};

// One line of the job log: one run of a job.
struct JobRun {
  int64_t job_id = 0;
  int attempt = 0;
  std::string tag;  // which worker process ran it
  double started = 0;
};
std::vector<JobRun> ReadJobLog(const std::string& path);

// Runs counted per job id.
std::map<int64_t, int> RunsPerJob(const std::vector<JobRun>& runs);

struct WorkerSpec {
  std::string dsn;
  std::string schema;
  std::string tag;        // passed to the job script; also the worker_id
  std::string script;     // the "rec" task's command
  int concurrency = 4;
  std::string lease = "3s";
  std::string rescue_interval = "1s";
  std::string extra;      // more "worker" keys, starting with ", "
  std::string tasks;      // the "tasks" object; empty: the "rec" command task
  std::vector<std::string> prefix;  // e.g. {"ip", "netns", "exec", "ns"} or faketime
  std::map<std::string, std::string> env;
};

// Starts `pgjobs worker` with a configuration written for spec.
std::unique_ptr<testing::ChildProcess> StartWorker(const Scratch& scratch, const WorkerSpec& spec);
// Starts `pgjobs scheduler`.
std::unique_ptr<testing::ChildProcess> StartScheduler(const Scratch& scratch,
                                                      const std::string& dsn,
                                                      const std::string& schema,
                                                      const std::string& tag,
                                                      const std::string& extra = "");

// SIGKILL to the process and its process group, like a lost host; reaps it.
void KillNine(testing::ChildProcess& process);

// Inserts count "rec" jobs in batches of 1000; returns their ids.
std::vector<int64_t> InsertJobs(const std::string& dsn, const std::string& schema, int count,
                                const std::string& task = "rec");

// Enqueues two "rec" jobs into pgjobs.jobs every 100 ms, one transaction each
// (well below what the workers run, so a stall is not a backlog), on its own
// thread and connection, and remembers which commits it saw succeed and
// which failed with the ids already returned (outcome unknown). Read the
// sets after Stop().
class Producer {
 public:
  explicit Producer(std::string dsn);
  ~Producer();
  void Stop();
  std::set<int64_t> acked, unsure;
  int64_t failed_commits = 0;

 private:
  void Loop();
  std::string dsn_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// The first column of every row of sql, as numbers.
std::set<int64_t> Ids(const std::string& dsn, const std::string& sql);

// The migrated schema "pgjobs" in a cluster of the scenario's own.
void Migrate(const std::string& dsn, const std::string& schema = "pgjobs");

}  // namespace pgjobs::faults

#endif  // PGJOBS_TESTS_FAULTS_FAULT_SUPPORT_H_
