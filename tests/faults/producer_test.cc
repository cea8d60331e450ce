// Producer transactions: a Python application (Debian's python3-psycopg2,
// tests/faults/producer.py) enqueues in its own transactions, with a plain
// INSERT and with pgjobs.enqueue(...), and rolls half of them back while a
// worker runs. Promise: exactly the committed jobs run, each once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/faults/fault_support.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::faults {
namespace {

using namespace std::chrono_literals;

TEST(ProducerTransactions, ExactlyTheCommittedJobsRunFromAPythonApplication) {
  if (access("/usr/bin/python3", X_OK) != 0 ||
      std::system("/usr/bin/python3 -c 'import psycopg2' 2>/dev/null") != 0) {
    GTEST_SKIP() << "needs Debian's python3-psycopg2 (tools/install-deps installs it)";
  }
  testing::TestSchema schema;
  const std::string dsn = schema.dsn();
  const std::string s = schema.name();
  const int transactions = Size(600, 20000);
  Scratch scratch;
  WorkerSpec w;
  w.dsn = dsn;
  w.schema = s;
  w.tag = "w0";
  w.script = scratch.RecordScript(0);
  auto worker = StartWorker(scratch, w);
  std::string out = scratch.File("producer.out");
  auto [rc, log] = testing::RunToEnd({"/usr/bin/python3", testing::SourceDir() + "/tests/faults/producer.py",
                                      dsn, s, std::to_string(transactions), out},
                                     std::chrono::minutes(10));
  ASSERT_EQ(0, rc) << log;
  std::set<int64_t> committed, rolled_back;
  std::ifstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line[0] == '-') rolled_back.insert(std::stoll(line.substr(1)));
    else committed.insert(std::stoll(line));
  }
  ASSERT_EQ(static_cast<size_t>(transactions), committed.size() + rolled_back.size());
  ASSERT_TRUE(testing::Eventually(
      [&] { return Q(dsn, "SELECT count(*) FROM " + s + ".jobs") == "0" &&
                   Q(dsn, "SELECT count(*) FROM " + s + ".job_history") ==
                       std::to_string(committed.size()); },
      300s))
      << worker->Log();
  std::set<int64_t> history = Ids(dsn, "SELECT id FROM " + s + ".job_history WHERE state = 'succeeded'");
  std::vector<JobRun> runs = ReadJobLog(scratch.JobLog());
  std::set<int64_t> ran;
  for (const JobRun& r : runs) ran.insert(r.job_id);
  int64_t ran_rolled_back = 0;
  for (int64_t id : rolled_back) ran_rolled_back += ran.count(id) + history.count(id);

  Figures f("producer_transactions");
  f.Set("transactions", int64_t{transactions});
  f.Set("committed", static_cast<int64_t>(committed.size()));
  f.Set("rolled_back", static_cast<int64_t>(rolled_back.size()));
  f.Set("runs", static_cast<int64_t>(runs.size()));
  f.Set("succeeded", static_cast<int64_t>(history.size()));
  f.Set("rolled_back_that_ran", ran_rolled_back);
  f.Print();

  EXPECT_EQ(committed, history);
  EXPECT_EQ(committed, ran);
  EXPECT_EQ(committed.size(), runs.size()) << "a job ran twice";
  EXPECT_EQ(0, ran_rolled_back);
}

}  // namespace
}  // namespace pgjobs::faults
