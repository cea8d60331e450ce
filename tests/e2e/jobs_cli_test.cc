// Black-box tests of `pgjobs jobs list|show|wait|retry|cancel|purge` against
// the built binary and a real PostgreSQL, without a worker: what each
// command prints (table and JSON), what it changed in the tables, and how it
// refuses bad input (exit status, message, nothing changed).
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "tests/e2e/cli_run.h"
#include "tests/support/expect_has.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using nlohmann::json;
using testing::CliRun;
using testing::TestSchema;

class JobsCliTest : public ::testing::Test {
 protected:
  // pgjobs --dsn ... --schema ... ARGS, standard input not a terminal.
  CliRun Run(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", schema_.name()};
    all.insert(all.end(), args.begin(), args.end());
    return testing::RunCli(dir_, all, stdin_text);
  }
  json RunJson(const std::vector<std::string>& args) {
    CliRun r = Run(args);
    EXPECT_EQ(0, r.rc) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  std::string Q(const std::string& sql) { return testing::QueryValue(schema_.dsn(), sql); }
  void Exec(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string S() { return schema_.name(); }
  std::string Insert(const std::string& task, const std::string& queue = "default",
                     const std::string& extra_cols = "", const std::string& extra_vals = "") {
    return Q("INSERT INTO " + S() + ".jobs (task, queue" + extra_cols + ") VALUES ('" + task +
             "', '" + queue + "'" + extra_vals + ") RETURNING id");
  }
  // A finished job in history.
  void Finished(int id, const std::string& state, const std::string& queue = "default",
                const std::string& task = "t") {
    Exec("INSERT INTO " + S() + ".job_history (id, queue, task, args, priority, state, attempt, "
         "max_attempts, errors, created_at, run_at, started_at, finished_at) VALUES (" +
         std::to_string(id) + ", '" + queue + "', '" + task + "', '{\"n\": " + std::to_string(id) +
         "}', 5, '" + state + "', 4, 4, '[{\"attempt\": 4, \"kind\": \"error\", \"error\": \"boom\"}]', "
         "now() - interval '1 minute', now() - interval '1 minute', now() - interval '30 seconds', now())");
  }
  // Everything in jobs and job_history, to check that nothing changed.
  std::string Snapshot() {
    return Q("SELECT (SELECT coalesce(string_agg(j::text, E'\\n' ORDER BY id), '') FROM " + S() +
             ".jobs j) || '#' || (SELECT coalesce(string_agg(h::text, E'\\n' ORDER BY id), '') FROM " +
             S() + ".job_history h)");
  }
  void Refused(const std::vector<std::string>& args, int rc, const std::string& part) {
    std::string before = Snapshot();
    CliRun r = Run(args);
    EXPECT_EQ(rc, r.rc) << r.out << r.err;
    EXPECT_HAS(r.err, part);
    EXPECT_EQ(before, Snapshot()) << "changed by a refused command";
  }

  TestSchema schema_;
  testing::TempDir tmp_{"pgjobs-jobs"};
  const std::string dir_ = tmp_.path();
};

TEST_F(JobsCliTest, ListShowsWaitingRunningAndFinishedJobsNewestFirstAsTableAndJson) {
  Finished(1, "failed");
  Finished(2, "succeeded", "mail", "send");
  Exec("ALTER TABLE " + S() + ".jobs ALTER COLUMN id RESTART WITH 10");
  std::string ready = Insert("send", "mail");
  std::string later = Insert("t", "default", ", run_at", ", now() + interval '1 hour'");
  CliRun r = Run({"jobs", "list"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "ID  STATE");
  size_t p_later = r.out.find("\n" + later + " ");
  size_t p_ready = r.out.find("\n" + ready + " ");
  size_t p_two = r.out.find("\n2 ");
  size_t p_one = r.out.find("\n1 ");
  ASSERT_NE(std::string::npos, p_one) << r.out;
  EXPECT_LT(p_later, p_ready);
  EXPECT_LT(p_ready, p_two);
  EXPECT_LT(p_two, p_one);
  EXPECT_HAS(r.out, "scheduled");
  EXPECT_HAS(r.out, "runs in 60m");

  json all = RunJson({"jobs", "list", "--json"});
  ASSERT_EQ(4u, all.size()) << all.dump();
  EXPECT_EQ(std::stoll(later), all[0]["id"]);
  EXPECT_EQ("scheduled", all[0]["state"]);
  EXPECT_EQ("failed", all[3]["state"]);
  for (const char* key : {"id", "queue", "task", "state", "priority", "attempt", "max_attempts",
                          "created_at", "run_at", "started_at", "finished_at", "worker_id",
                          "schedule_id", "retry_of", "cancel_requested", "cancelled_by"}) {
    EXPECT_TRUE(all[3].contains(key)) << key;
  }
  EXPECT_HAS(all[3]["finished_at"].get<std::string>(), "T");  // ISO 8601

  json mail = RunJson({"jobs", "list", "--queue", "mail", "--json"});
  ASSERT_EQ(2u, mail.size());
  EXPECT_EQ(std::stoll(ready), mail[0]["id"]);
  EXPECT_EQ(2, mail[1]["id"]);
  json failed = RunJson({"jobs", "list", "--state", "failed", "--json"});
  ASSERT_EQ(1u, failed.size());
  EXPECT_EQ(1, failed[0]["id"]);
  EXPECT_EQ(1u, RunJson({"jobs", "list", "--state", "scheduled", "--json"}).size());
  EXPECT_EQ(1u, RunJson({"jobs", "list", "--task", "send", "--state", "pending", "--json"}).size());
  EXPECT_EQ(2u, RunJson({"jobs", "list", "--limit", "2", "--json"}).size());
  EXPECT_EQ(4u, RunJson({"jobs", "list", "--since", "1h", "--json"}).size());
}

TEST_F(JobsCliTest, AFilterValueWithQuotesAndSqlIsMatchedAsDataAndChangesNothing) {
  Insert("t");
  std::string before = Snapshot();
  for (const char* evil : {"x'; DROP TABLE jobs; --", "' OR '1'='1", "\"); DELETE FROM jobs; --"}) {
    CliRun r = Run({"jobs", "list", "--task", evil, "--json"});
    EXPECT_EQ(0, r.rc) << r.err;
    EXPECT_EQ("[]\n", r.out) << evil;
    r = Run({"jobs", "list", "--queue", "default", "--task", evil});
    EXPECT_EQ(0, r.rc) << r.err;
    EXPECT_HAS(r.out, "no jobs match");
  }
  EXPECT_EQ(before, Snapshot());
  Refused({"jobs", "cancel", "--queue", "x'; DROP TABLE jobs; --"}, 2, "queue");
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(JobsCliTest, BadIdsStatesLimitsAndDurationsAreRefusedNamingTheFix) {
  Insert("t");
  Refused({"jobs", "show", "12x"}, 2, "job id must be a number: \"12x\"");
  Refused({"jobs", "show", "424242"}, 3, "no job 424242");
  Refused({"jobs", "wait", "abc"}, 2, "job id must be a number");
  Refused({"jobs", "wait", "424242"}, 3, "no job 424242");
  Refused({"jobs", "cancel", "-5"}, 2, "");
  Refused({"jobs", "cancel", "424242"}, 3, "no job 424242");
  Refused({"jobs", "retry", "424242"}, 3, "no job 424242");
  Refused({"jobs", "retry", "x1"}, 2, "job id must be a number");
  Refused({"jobs", "list", "--state", "done"}, 2,
          "--state \"done\" is not a state; use pending, scheduled, running, succeeded, failed or cancelled");
  Refused({"jobs", "list", "--since", "soon"}, 2, "--since");
  // A schedule that does not exist is a typo, not "no jobs match".
  Refused({"jobs", "list", "--schedule", "nightly-typo"}, 3,
          "--schedule: no schedule \"nightly-typo\"");
  Refused({"jobs", "list", "--since", "-1h"}, 2, "--since \"-1h\" is negative");
  Refused({"jobs", "list", "--limit", "0"}, 2, "--limit 0 is out of range; use 1-10000");
  Refused({"jobs", "wait", "1", "--timeout", "never"}, 2, "--timeout");
  Refused({"jobs", "retry", "--failed", "--since", "yesterday"}, 2, "--since");
  Refused({"jobs", "retry"}, 2, "give one of a job id");
  Refused({"jobs", "cancel"}, 2, "give a job id");
}

TEST_F(JobsCliTest, CancelOfAPendingJobMovesItToHistoryAsCancelledWithWhoCancelled) {
  std::string id = Insert("t");
  CliRun r = Run({"jobs", "cancel", id});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("job " + id + " cancelled (it had not started)\n", r.out);
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));
  std::string by = Q("SELECT state || ' ' || cancelled_by FROM " + S() + ".job_history WHERE id = " + id);
  EXPECT_HAS(by, "cancelled ");
  EXPECT_HAS(by, "@");
  json shown = RunJson({"jobs", "show", id, "--json"});
  EXPECT_EQ("cancelled", shown["state"]);
  EXPECT_FALSE(shown["cancelled_by"].is_null());
}

TEST_F(JobsCliTest, CancelOfAFinishedJobSaysItHasAlreadyFinishedAndChangesNothing) {
  Finished(7, "succeeded");
  Refused({"jobs", "cancel", "7"}, 1,
          "job 7 has already finished (succeeded); there is nothing to cancel");
}

TEST_F(JobsCliTest, CancelByQueueCancelsOnlyThatQueueAndTask) {
  Insert("a", "mail");
  Insert("b", "mail");
  Insert("a", "other");
  json c = RunJson({"jobs", "cancel", "--queue", "mail", "--task", "a", "--json"});
  EXPECT_EQ(1, c["cancelled"]);
  EXPECT_EQ(0, c["stopping"]);
  EXPECT_EQ("b,a", Q("SELECT string_agg(task, ',' ORDER BY id) FROM " + S() + ".jobs"));
  CliRun r = Run({"jobs", "cancel", "--queue", "mail"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "queue \"mail\": cancelled 1 pending job;");
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".job_history WHERE state = 'cancelled'"));
  Refused({"jobs", "cancel", "--queue", "mali"}, 3, "no queue \"mali\"; did you mean \"mail\"?");
}

TEST_F(JobsCliTest, RetryOfAFailedJobMakesANewPendingJobPointingAtTheOriginal) {
  Finished(5, "failed", "mail", "send");
  CliRun r = Run({"jobs", "retry", "5"});
  ASSERT_EQ(0, r.rc) << r.err;
  std::string new_id = Q("SELECT id FROM " + S() + ".jobs");
  EXPECT_EQ("job 5 retried as job " + new_id + "\n", r.out);
  EXPECT_EQ("mail|send|{\"n\": 5}|0|5|pending",
            Q("SELECT concat_ws('|', queue, task, args, attempt, retry_of, state) FROM " + S() + ".jobs"));
  json listed = RunJson({"jobs", "list", "--state", "pending", "--json"});
  EXPECT_EQ(5, listed[0]["retry_of"]);
  Finished(6, "succeeded");
  Refused({"jobs", "retry", "6"}, 1, "job 6 cannot be retried: it succeeded");
  Refused({"jobs", "retry", new_id}, 1, "only failed or cancelled jobs are retried");
}

TEST_F(JobsCliTest, AJobWhoseArgsHoldANumberBeyondADoubleCanStillBeShown) {
  // jsonb holds any numeric; the CLI reads JSON numbers as doubles and could
  // not show such a job at all ("job_show returned text that is not JSON").
  Exec("INSERT INTO " + S() +
       ".jobs (task, args) VALUES ('t', '{\"big\": 1e400, \"neg\": -2E+999, \"ok\": 1.5, "
       "\"text\": \"1e400 \\\" [\", \"list\": [1, 3e500]}')");
  std::string id = Q("SELECT id FROM " + S() + ".jobs");
  json shown = RunJson({"jobs", "show", id, "--json"});
  // As PostgreSQL prints them (all their digits), as strings.
  auto printed = [&](const std::string& path) {
    return Q("SELECT args #>> '" + path + "' FROM " + S() + ".jobs");
  };
  EXPECT_EQ(401u, printed("{big}").size());
  EXPECT_EQ(printed("{big}"), shown["args"]["big"]);
  EXPECT_EQ(printed("{neg}"), shown["args"]["neg"]);
  EXPECT_EQ(1.5, shown["args"]["ok"]);
  EXPECT_EQ("1e400 \" [", shown["args"]["text"]);
  EXPECT_EQ(1, shown["args"]["list"][0]);
  EXPECT_EQ(printed("{list,1}"), shown["args"]["list"][1]);
  CliRun r = Run({"jobs", "show", id});
  EXPECT_EQ(0, r.rc) << r.err;
}

TEST_F(JobsCliTest, ASecondRetryWhileTheFirstIsLiveIsRefusedNotASecondCopy) {
  // A double-click on Retry, or the command run twice, used to run the job
  // twice at once.
  Finished(5, "failed", "mail", "send");
  CliRun r = Run({"jobs", "retry", "5"});
  ASSERT_EQ(0, r.rc) << r.err;
  std::string first = Q("SELECT id FROM " + S() + ".jobs");
  Refused({"jobs", "retry", "5"}, 1,
          "job 5 was already retried as job " + first +
              ", which is pending; a second retry would run it twice at once. Wait for it to end "
              "(`pgjobs jobs wait " +
              first + "`) or cancel it first (`pgjobs jobs cancel " + first + "`)");
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs"));
  // The database function refuses it as well, for callers of pgjobs.retry.
  pg::Connection conn(schema_.dsn(), nullptr, "pgjobs tests");
  auto refused = conn.ExecSql("SELECT " + S() + ".retry(5)");
  ASSERT_FALSE(refused.ok());
  EXPECT_HAS(refused.status().message(),
             "job 5 was already retried as job " + first + ", which is still pending");
  // Once that retry has ended, the original may be retried again.
  Exec("UPDATE " + S() +
       ".jobs SET state = 'running', attempt = 1, lease_owner = 'w1', "
       "lease_expires_at = now() + interval '1 min' WHERE id = " +
       first);
  Refused({"jobs", "retry", "5"}, 1, "which is running");
  Exec("DELETE FROM " + S() + ".jobs WHERE id = " + first);
  r = Run({"jobs", "retry", "5"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs WHERE retry_of = 5"));
}

TEST_F(JobsCliTest, RetryFailedRedrivesEachFailedJobOnceAndKeepsFilters) {
  Finished(1, "failed", "mail", "send");
  Finished(2, "failed", "mail", "other");
  Finished(3, "failed", "bulk", "send");
  Finished(4, "cancelled", "mail", "send");
  json first = RunJson({"jobs", "retry", "--failed", "--queue", "mail", "--json"});
  EXPECT_EQ(2, first["retried"]);
  EXPECT_EQ("1,2", Q("SELECT string_agg(retry_of::text, ',' ORDER BY retry_of) FROM " + S() + ".jobs"));
  json again = RunJson({"jobs", "retry", "--failed", "--queue", "mail", "--json"});
  EXPECT_EQ(0, again["retried"]);  // already retried: not twice
  // A queue that never had a job is a typo, not "no failures".
  Refused({"jobs", "retry", "--failed", "--queue", "maill"}, 3,
          "--queue: no queue \"maill\"; did you mean \"mail\"?");
  CliRun r = Run({"jobs", "retry", "--failed", "--task", "send", "--since", "1h"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("retried 1 failed job as a new pending job\n", r.out);
  EXPECT_EQ("3", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(JobsCliTest, RetryCancelledUndoesACancelOfAQueueOnceAndLeavesFailedJobsAlone) {
  Insert("a", "mail");
  Insert("b", "mail");
  Insert("a", "other");
  Finished(100, "failed", "mail", "a");
  Finished(101, "cancelled", "mail", "old");
  Exec("UPDATE " + S() +
       ".job_history SET finished_at = now() - interval '2 hours' WHERE id = 101");
  json c = RunJson({"jobs", "cancel", "--queue", "mail", "--json"});
  ASSERT_EQ(2, c["cancelled"]);
  // One of --failed, --cancelled and an id; the filters go with the first two.
  Refused({"jobs", "retry", "--failed", "--cancelled"}, 2,
          "give one of a job id (`pgjobs jobs retry 42`), --failed");
  Refused({"jobs", "retry", "5", "--cancelled"}, 2, "give one of a job id");
  Refused({"jobs", "retry", "5", "--queue", "mail"}, 2,
          "--queue, --task and --since go with --failed or --cancelled, not with a job id");
  Refused({"jobs", "retry", "--cancelled", "--queue", "maill"}, 3,
          "--queue: no queue \"maill\"; did you mean \"mail\"?");
  CliRun r = Run({"jobs", "retry", "--cancelled", "--queue", "mail", "--since", "10m"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("retried 2 cancelled jobs as new pending jobs\n", r.out);
  // The two just cancelled are pending again as new jobs with their tasks;
  // the failed job and the one cancelled two hours ago are not retried.
  EXPECT_EQ(
      "mail:a,mail:b,other:a",
      Q("SELECT string_agg(queue || ':' || task, ',' ORDER BY queue, task) FROM " + S() + ".jobs"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs WHERE retry_of IN (100, 101)"));
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".jobs j JOIN " + S() +
                   ".job_history h ON h.id = j.retry_of WHERE h.state = 'cancelled'"));
  json again =
      RunJson({"jobs", "retry", "--cancelled", "--queue", "mail", "--since", "10m", "--json"});
  EXPECT_EQ(0, again["retried"]);  // already retried: not twice
  EXPECT_EQ(
      "job.retry_cancelled {\"queue\": \"mail\", \"retried\": 0, \"since_seconds\": 600.0, "
      "\"skipped_unique_key\": 0}",
      Q("SELECT action || ' ' || details::text FROM " + S() +
        ".audit_log ORDER BY id DESC LIMIT 1"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".audit_log WHERE action = 'job.retry_failed'"));
  // Two redrives ran, each recorded once; the refused one ("maill") wrote nothing.
  EXPECT_EQ("2",
            Q("SELECT count(*) FROM " + S() + ".audit_log WHERE action = 'job.retry_cancelled'"));
}

TEST_F(JobsCliTest, PurgeWithoutYesAndWithoutATerminalIsRefusedAndDeletesNothing) {
  Insert("a", "mail");
  Insert("b", "mail");
  Refused({"jobs", "purge", "--queue", "mail"}, 2,
          "refusing to purge without --yes: standard input is not a terminal");
  CliRun r = Run({"jobs", "purge", "--queue", "mail"}, "y\n");
  EXPECT_EQ(2, r.rc);  // a "y" on a pipe is not a confirmation
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".jobs"));
  Refused({"jobs", "purge", "--queue", "nope", "--yes"}, 3, "no queue \"nope\"");
}

TEST_F(JobsCliTest, PurgeWithYesDeletesOnlyThePendingJobsOfThatQueueAndTask) {
  Insert("a", "mail");
  Insert("b", "mail");
  Insert("a", "other");
  CliRun r = Run({"jobs", "purge", "--queue", "mail", "--task", "a", "--yes"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("deleted 1 pending job of queue \"mail\" with task \"a\"\n", r.out);
  json j = RunJson({"jobs", "purge", "--queue", "mail", "--yes", "--json"});
  EXPECT_EQ(1, j["deleted"]);
  EXPECT_EQ("other", Q("SELECT string_agg(queue, ',') FROM " + S() + ".jobs"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".job_history"));
  // The emptied queue stays known: the same purge again (from cron, say)
  // deletes nothing instead of failing with "no queue".
  r = Run({"jobs", "purge", "--queue", "mail", "--yes"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("deleted 0 pending jobs of queue \"mail\"\n", r.out);
  // A typo is still one, with its sentence ended before the list.
  Refused({"jobs", "purge", "--queue", "zzz", "--yes"}, 3, "no queue \"zzz\". Known queues: ");
}

TEST_F(JobsCliTest, WaitExitsWithTheJobsOutcomeAndTimesOutWithSeven) {
  Finished(1, "failed");
  Finished(2, "cancelled");
  Exec("INSERT INTO " + S() + ".job_history (id, queue, task, args, priority, state, attempt, "
       "max_attempts, result, created_at, run_at, finished_at) VALUES "
       "(3, 'default', 't', '{}', 5, 'succeeded', 1, 4, '{\"ok\": true}', now(), now(), now())");
  CliRun r = Run({"jobs", "wait", "3"});
  EXPECT_EQ(0, r.rc) << r.err;
  EXPECT_EQ("{\"ok\":true}\n", r.out);
  r = Run({"jobs", "wait", "1"});
  EXPECT_EQ(5, r.rc);
  EXPECT_HAS(r.err, "job 1 failed: boom");
  r = Run({"jobs", "wait", "2", "--json"});
  EXPECT_EQ(6, r.rc);
  EXPECT_EQ("cancelled", json::parse(r.out)["state"]);
  std::string id = Insert("t");
  r = Run({"jobs", "wait", id, "--timeout", "300ms"});
  EXPECT_EQ(7, r.rc);
  EXPECT_HAS(r.err, "has not finished (it is pending) after the timeout");
  r = Run({"enqueue", "t", "--wait", "--wait-timeout", "200ms"});
  EXPECT_EQ(7, r.rc) << r.err;
  r = Run({"enqueue", "t", "--wait-timeout", "1s"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--wait-timeout goes with --wait");
}

TEST_F(JobsCliTest, ShowFollowPrintsProgressChangesUntilTheJobEnds) {
  std::string id = Insert("t");
  Exec("UPDATE " + S() + ".jobs SET state = 'running', lease_owner = 'w', attempt = 1, "
       "lease_expires_at = now() + interval '1 hour', started_at = now() WHERE id = " + id);
  std::string out = dir_ + "/follow.out";
  testing::ChildProcess follow({testing::BinaryPath(), "--dsn", schema_.dsn(), "--schema", S(),
                                "jobs", "show", id, "--follow"},
                               out);
  ASSERT_TRUE(testing::Eventually([&] { return testing::ReadFile(out).find("job " + id) != std::string::npos; }));
  Exec("UPDATE " + S() + ".jobs SET progress = '{\"pct\": 50}' WHERE id = " + id);
  ASSERT_TRUE(testing::Eventually([&] { return testing::ReadFile(out).find("pct") != std::string::npos; }));
  Exec("SELECT " + S() + ".cancel(" + id + ")");
  Exec("WITH d AS (DELETE FROM " + S() + ".jobs RETURNING *) INSERT INTO " + S() +
       ".job_history (id, queue, task, args, priority, state, attempt, max_attempts, created_at, "
       "run_at, finished_at, cancelled_by) SELECT id, queue, task, args, priority, 'cancelled', "
       "attempt, max_attempts, created_at, run_at, now(), cancelled_by FROM d");
  EXPECT_EQ(0, follow.Wait(std::chrono::seconds(10)).value_or(-1));
  std::string text = testing::ReadFile(out);
  EXPECT_HAS(text, "running  progress {\"pct\":50}");
  EXPECT_HAS(text, "job " + id + ": cancelled");
}

TEST_F(JobsCliTest, ShowFollowJsonPrintsOneDocumentPerLine) {
  // Line-by-line readers (while read; json.loads per line) broke on a last
  // document printed over many lines.
  std::string id = Insert("t");
  Exec("WITH d AS (DELETE FROM " + S() + ".jobs RETURNING *) INSERT INTO " + S() +
       ".job_history (id, queue, task, args, priority, state, attempt, max_attempts, created_at, "
       "run_at, finished_at) SELECT id, queue, task, args, priority, 'succeeded', 1, "
       "max_attempts, created_at, run_at, now() FROM d");
  CliRun r = Run({"jobs", "show", id, "--follow", "--json"});
  ASSERT_EQ(0, r.rc) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int n = 0;
  while (std::getline(lines, line)) {
    json doc = json::parse(line);  // throws (and fails the test) on a partial document
    EXPECT_EQ("succeeded", doc["state"]);
    ++n;
  }
  EXPECT_EQ(2, n) << r.out;  // the job as it was, then as it ended
}

}  // namespace
}  // namespace pgjobs
