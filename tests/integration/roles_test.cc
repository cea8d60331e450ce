// The least-privilege roles (migration 0009, `pgjobs migrate --create-roles`)
// tried for real: a login role per group role connects and does what its
// group may do, and is refused the rest.
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "pgjobs/scheduler.h"
#include "pgjobs/worker.h"
#include "tests/e2e/cli_run.h"
#include "tests/support/expect_has.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;
using testing::Eventually;
using testing::QueryValue;
using testing::TestSchema;

class RolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = SqlCatalog::Load(S());
    ASSERT_TRUE(catalog.ok());
    pg::Connection conn(schema_.dsn(), nullptr, "pgjobs tests");
    auto granted = migrate::Migrator(conn, *catalog).GrantRoles(true);
    ASSERT_TRUE(granted.ok()) << granted.status().message();
    ASSERT_EQ((std::vector<std::string>{S() + "_producer", S() + "_worker", S() + "_admin",
                                        S() + "_reader"}),
              *granted);
    for (const char* kind : {"producer", "worker", "admin", "reader"}) {
      Su("CREATE ROLE " + Login(kind) + " LOGIN IN ROLE " + S() + "_" + kind);
    }
    Su("CREATE ROLE " + Login("nobody") + " LOGIN");
  }
  void TearDown() override {
    for (const char* kind : {"producer", "worker", "admin", "reader", "nobody"}) {
      (void)Try("superuser", "DROP OWNED BY " + Login(kind) + "; DROP ROLE " + Login(kind));
    }
    for (const char* kind : {"producer", "worker", "admin", "reader"}) {
      (void)Try("superuser",
                "DROP OWNED BY " + S() + "_" + kind + "; DROP ROLE " + S() + "_" + kind);
    }
  }

  std::string S() { return schema_.name(); }
  std::string Login(const std::string& kind) { return S() + "_login_" + kind; }
  std::string DsnAs(const std::string& kind) {
    return kind == "superuser" ? schema_.dsn() : schema_.dsn() + " user=" + Login(kind);
  }
  void Su(const std::string& sql) { testing::Execute(schema_.dsn(), sql); }
  std::string Q(const std::string& sql) { return QueryValue(schema_.dsn(), sql); }
  // Runs sql as the login role of kind; the error message, "" on success.
  std::string Try(const std::string& kind, const std::string& sql) {
    pg::Connection conn(DsnAs(kind), nullptr, "pgjobs roles test");
    auto rows = conn.ExecSql(FillSchema(sql, S()));
    return rows.ok() ? "" : rows.status().message();
  }
  void ExpectAllowed(const std::string& kind, const std::string& sql) {
    EXPECT_EQ("", Try(kind, sql)) << kind << " should be allowed: " << sql;
  }
  void ExpectDenied(const std::string& kind, const std::string& sql) {
    // PostgreSQL says "permission denied" for a missing privilege and "must
    // be owner" for DDL on an object of another role.
    std::string error = Try(kind, sql);
    EXPECT_TRUE(error.find("permission denied") != std::string::npos ||
                error.find("must be owner") != std::string::npos)
        << kind << " should be refused: " << sql << "\n  got: " << error;
  }
  // A scheduler connected as the login role of kind.
  SchedulerOptions SchedulerAs(const std::string& kind) {
    SchedulerOptions o;
    o.dsn = DsnAs(kind);
    o.schema = S();
    o.logger = QuietLogger();
    return o;
  }
  std::shared_ptr<spdlog::logger> QuietLogger() {
    return std::make_shared<spdlog::logger>("test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
  }

  TestSchema schema_;
};

TEST_F(RolesTest, TheProducerEnqueuesAndReadsJobStateAndNothingElse) {
  ExpectAllowed("producer", "INSERT INTO @schema@.jobs (task, args) VALUES ('t', '{\"a\": 1}')");
  ExpectAllowed("producer", "SELECT @schema@.enqueue('t', '{}', unique_key => 'k')");
  ExpectAllowed("producer", "SELECT @schema@.enqueue('t', '{}', unique_key => 'k')");
  ExpectAllowed("producer", "SELECT id, state FROM @schema@.jobs");
  ExpectAllowed("producer", "SELECT id, state, result FROM @schema@.job_history");
  ExpectAllowed("producer", "SELECT id, state, result FROM @schema@.all_jobs");
  // What AsyncResult.get() in the Python module calls to wait for the end.
  ExpectAllowed("producer", "SELECT @schema@.notify_when_done((SELECT min(id) FROM @schema@.jobs))");
  // The enqueue trigger's check for an idle worker (migration 0019): which
  // queues have one, never which workers.
  ExpectAllowed("producer", "SELECT queue FROM @schema@.idle_queues");
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".jobs"));

  for (const char* table : {"schedules", "workers", "queues", "idle_workers", "leader"}) {
    ExpectDenied("producer", std::string("SELECT * FROM @schema@.") + table);
  }
  ExpectDenied("producer", "UPDATE @schema@.jobs SET priority = 9");
  ExpectDenied("producer", "DELETE FROM @schema@.jobs");
  ExpectDenied("producer", "INSERT INTO @schema@.job_history SELECT * FROM @schema@.job_history");
  ExpectDenied("producer", "INSERT INTO @schema@.schedules (name, task) VALUES ('s', 't')");
  ExpectDenied("producer", "UPDATE @schema@.schedules SET enabled = false");
  ExpectDenied("producer", "INSERT INTO @schema@.queues (name) VALUES ('q')");
  ExpectDenied("producer", "SELECT @schema@.cancel((SELECT min(id) FROM @schema@.jobs))");
  ExpectDenied("producer", "SELECT @schema@.retry(1)");
  ExpectDenied("producer", "SELECT @schema@.set_queue_limits('q', true, 1, false, null, null)");
  ExpectDenied("producer", "SELECT @schema@.ensure_history_partitions()");
  ExpectDenied("producer", "SELECT @schema@.grant_roles(true)");
  ExpectDenied("producer", "DROP TABLE @schema@.jobs");
  ExpectDenied("producer", "CREATE TABLE @schema@.mine (x int)");
  EXPECT_EQ("2", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(RolesTest, AProducersEnqueueStillWakesAnIdleWorker) {
  // The wake-up reads and deletes idle_workers rows the producer may not
  // touch: it runs in the schema owner's function.
  Su("INSERT INTO " + S() + ".idle_workers (queue, worker_id) VALUES ('mail', 'w1')");
  pg::Connection listener(schema_.dsn(), nullptr, "pgjobs roles test");
  ASSERT_TRUE(listener.Listen(S() + "_jobs").ok());
  ExpectAllowed("producer", "INSERT INTO @schema@.jobs (task, queue) VALUES ('t', 'mail')");
  auto notes = listener.WaitForNotifications(5s);
  ASSERT_TRUE(notes.ok()) << notes.status().message();
  ASSERT_EQ(1u, notes->size());
  EXPECT_EQ("mail", (*notes)[0].payload);
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".idle_workers"));
}

TEST_F(RolesTest, TheProducerShowsListsAndWaitsForJobsFromTheCliAndDoctorNamesTheRolesItNeeds) {
  // The README gives the producer these commands; jobs show, list and wait
  // (and so enqueue --wait, after enqueuing) failed on "permission denied
  // for table workers / schedules", which it may not read.
  char tmpl[] = "/tmp/pgjobs-roles.XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(tmpl));
  const std::string dir = tmpl;
  std::vector<std::string> as_producer = {"--dsn", DsnAs("producer"), "--schema", S()};
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), as_producer.begin(), as_producer.end());
    return testing::RunCli(dir, args);
  };
  testing::CliRun r = run({"enqueue", "report", "--wait", "--wait-timeout", "1s"});
  EXPECT_EQ(7, r.rc) << r.err;  // enqueued, then waited its second: not a failure
  std::string id = Q("SELECT max(id) FROM " + S() + ".jobs");
  EXPECT_EQ(id + "\n", r.out);
  r = run({"jobs", "show", id, "--json"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "\"has_worker\": null");
  r = run({"jobs", "list", "--json"});
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(r.out, "\"id\": " + id);
  r = run({"jobs", "wait", id, "--timeout", "1s"});
  EXPECT_EQ(7, r.rc) << r.err;
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs"));
  // The admin role still gets the note's fact.
  EXPECT_HAS(
      testing::RunCli(dir, {"--dsn", DsnAs("admin"), "--schema", S(), "jobs", "show", id, "--json"})
          .out,
      "\"has_worker\": false");
  // doctor reads every table: as the worker role (a worker host's DSN) it
  // says which roles to run it as, not only "permission denied".
  r = testing::RunCli(dir, {"--dsn", DsnAs("worker"), "--schema", S(), "doctor"});
  EXPECT_EQ(1, r.rc);
  EXPECT_HAS(r.err, "doctor reads every table of the schema; run it as a role in " + S() +
                        "_admin or " + S() + "_reader (--dsn): ");
  std::system(("rm -rf " + dir).c_str());
}

TEST_F(RolesTest, TheWorkerRunsTheJobProtocolButCannotEnqueueEditSchedulesOrDropAnything) {
  WorkerOptions o;
  o.dsn = DsnAs("worker");
  o.schema = S();
  o.queues = {{"default", 2}};
  o.poll_interval = 100ms;
  o.rescue_interval = 200ms;
  o.logger = QuietLogger();
  Worker worker(o);
  worker.Register("ok", [](JobContext&) { return HandlerResult::Success(R"({"done": 1})"); });
  worker.Register("bad", [](JobContext&) { return HandlerResult::Failure("no"); });
  Status started = worker.Start();
  ASSERT_TRUE(started.ok()) << started.message();
  ExpectAllowed("producer", "SELECT @schema@.enqueue('ok')");
  ExpectAllowed("producer", "SELECT @schema@.enqueue('bad', max_attempts => 2)");
  // A lease that expired while its worker was gone: this worker rescues it.
  Su("INSERT INTO " + S() +
     ".jobs (task, state, attempt, lease_owner, lease_expires_at, "
     "lease_token, started_at) VALUES ('ok', 'running', 1, 'gone', now() - interval '1 minute', "
     "7, now())");
  EXPECT_TRUE(Eventually(
      [&] {
        return Q("SELECT string_agg(task || ':' || state, ',' ORDER BY task, state) FROM " + S() +
                 ".job_history") == "bad:failed,ok:succeeded,ok:succeeded";
      },
      15s))
      << Q("SELECT string_agg(task || ':' || state, ',') FROM " + S() + ".all_jobs");
  worker.Stop(5s);
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs"));

  ExpectDenied("worker", "INSERT INTO @schema@.jobs (task) VALUES ('t')");
  ExpectDenied("worker", "INSERT INTO @schema@.schedules (name, task) VALUES ('s', 't')");
  ExpectDenied("worker", "UPDATE @schema@.schedules SET enabled = false");
  ExpectDenied("worker", "UPDATE @schema@.queues SET paused = true");
  ExpectDenied("worker", "SELECT @schema@.set_queue_limits('default', true, 1, false, NULL, NULL)");
  ExpectDenied("worker", "SELECT @schema@.drop_history_partitions(interval '1 day')");
  ExpectDenied("worker", "DELETE FROM @schema@.job_history");
  ExpectDenied("worker", "TRUNCATE @schema@.jobs");
  for (const char* table : {"jobs", "job_history", "schedules", "workers", "queues"}) {
    ExpectDenied("worker", std::string("DROP TABLE @schema@.") + table);
  }
  ExpectDenied("worker", "DROP SCHEMA @schema@ CASCADE");
  ExpectDenied("worker", "DROP FUNCTION @schema@.enqueue");
  ExpectDenied("worker", "CREATE TABLE @schema@.mine (x int)");
}

TEST_F(RolesTest, AWorkerOrSchedulerWhoseRoleLacksItsRightsFailsToStartNamingTheRoleToGrant) {
  // They used to start, report ready and log a refusal on every claim or
  // tick (a scheduler as the worker role never fired anything).
  Scheduler scheduler(SchedulerAs("worker"));
  Status st = scheduler.Start();
  EXPECT_EQ(Status::Code::kPermissionDenied, st.code()) << st.message();
  EXPECT_HAS(st.message(), "database role " + Login("worker") +
                               " may not run the scheduler on "
                               "schema " +
                               S() + ": it lacks UPDATE on " + S() + ".schedules");
  EXPECT_HAS(st.message(), "GRANT " + S() + "_admin TO " + Login("worker"));
  WorkerOptions wo;
  wo.dsn = DsnAs("producer");
  wo.schema = S();
  wo.queues = {{"default", 1}};
  wo.logger = QuietLogger();
  Worker worker(wo);
  worker.Register("ok", [](JobContext&) { return HandlerResult::Success(); });
  st = worker.Start();
  EXPECT_EQ(Status::Code::kPermissionDenied, st.code()) << st.message();
  EXPECT_HAS(st.message(), "may not run workers on schema " + S() + ": it lacks UPDATE on " + S() +
                               ".jobs, DELETE on " + S() + ".jobs");
  EXPECT_HAS(st.message(), "GRANT " + S() + "_worker TO " + Login("producer"));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".workers"));
}

TEST_F(RolesTest, TheAdminRunsTheSchedulerAndManagesRowsButChangesNoSchema) {
  ExpectAllowed("admin",
                "INSERT INTO @schema@.schedules (name, task, kind, every) VALUES "
                "('tick', 'tick', 'interval', interval '1 second')");
  Scheduler scheduler(SchedulerAs("admin"));
  Status started = scheduler.Start();
  ASSERT_TRUE(started.ok()) << started.message();
  EXPECT_TRUE(Eventually([&] { return Q("SELECT count(*) FROM " + S() + ".jobs") != "0"; }, 10s));
  scheduler.Stop();
  ExpectAllowed("admin", "SELECT @schema@.cancel((SELECT min(id) FROM @schema@.jobs))");
  ExpectAllowed("admin", "UPDATE @schema@.queues SET paused = true");
  ExpectAllowed("admin",
                "SELECT @schema@.ensure_history_partitions(), "
                "@schema@.drop_history_partitions(interval '30 days')");
  ExpectDenied("admin", "DROP TABLE @schema@.jobs");
  ExpectDenied("admin", "CREATE TABLE @schema@.mine (x int)");
  ExpectDenied("admin", "DELETE FROM @schema@.schema_migrations");
  ExpectDenied("admin", "SELECT @schema@.grant_roles(true)");
}

TEST_F(RolesTest, TheAdminAddsToTheAuditLogButCannotRewriteIt) {
  ExpectAllowed("admin",
                "INSERT INTO @schema@.audit_log (actor, action, target) VALUES ('a@web', "
                "'queue.pause', 'q')");
  ExpectAllowed("admin", "SELECT * FROM @schema@.audit_log");
  ExpectDenied("admin", "UPDATE @schema@.audit_log SET actor = 'someone else'");
  ExpectDenied("admin", "DELETE FROM @schema@.audit_log");
  ExpectDenied("admin", "TRUNCATE @schema@.audit_log");
  EXPECT_EQ("a@web", Q("SELECT actor FROM " + S() + ".audit_log"));
}

TEST_F(RolesTest, TheReaderSeesEveryTableAndChangesNothing) {
  Su("INSERT INTO " + S() + ".jobs (task) VALUES ('t')");
  for (const char* table : {"jobs", "job_history", "all_jobs", "schedules", "workers", "queues",
                            "leader", "audit_log", "schema_migrations"}) {
    ExpectAllowed("reader", std::string("SELECT * FROM @schema@.") + table);
  }
  ExpectDenied("reader", "INSERT INTO @schema@.jobs (task) VALUES ('t')");
  ExpectDenied("reader", "UPDATE @schema@.jobs SET priority = 9");
  ExpectDenied("reader", "DELETE FROM @schema@.jobs");
  ExpectDenied("reader", "INSERT INTO @schema@.queues (name, paused) VALUES ('q', true)");
  ExpectDenied("reader", "UPDATE @schema@.schedules SET enabled = false");
  ExpectDenied("reader", "INSERT INTO @schema@.audit_log (actor, action, target) VALUES "
                         "('x', 'job.cancel', '1')");
  ExpectDenied("reader", "SELECT @schema@.enqueue('t')");
  ExpectDenied("reader", "SELECT @schema@.cancel((SELECT min(id) FROM @schema@.jobs))");
  ExpectDenied("reader", "SELECT @schema@.retry(1)");
  ExpectDenied("reader", "DROP TABLE @schema@.jobs");
  EXPECT_EQ("1", Q("SELECT count(*) FROM " + S() + ".jobs"));
}

TEST_F(RolesTest, PublicHasNoRightOnTheSchemaOrItsFunctions) {
  ExpectDenied("nobody", "SELECT count(*) FROM @schema@.jobs");
  ExpectDenied("nobody", "SELECT @schema@.enqueue('t')");
  ExpectDenied("nobody", "INSERT INTO @schema@.jobs (task) VALUES ('t')");
  EXPECT_EQ("",
            Q("SELECT string_agg(p.proname, ',') FROM pg_proc p WHERE p.pronamespace = '" + S() +
              "'::regnamespace AND p.prosecdef AND (p.proconfig IS NULL OR NOT "
              "p.proconfig @> '{\"search_path=pg_catalog, pg_temp\"}')"))
      << "every SECURITY DEFINER function pins its search_path";
  EXPECT_EQ("",
            Q("SELECT string_agg(p.proname, ',') FROM pg_proc p WHERE p.pronamespace = '" + S() +
              "'::regnamespace AND p.prosecdef AND has_function_privilege('public', "
              "p.oid, 'EXECUTE')"))
      << "PUBLIC may not execute a SECURITY DEFINER function";
}

TEST_F(RolesTest, ALoginRoleWithoutAPgjobsRoleIsToldToGrantOneNotToMigrate) {
  // Every command checks the schema first; a role without rights used to be
  // told to run `pgjobs migrate` (and a worker exited 5, "not migrated").
  auto catalog = SqlCatalog::Load(S());
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(DsnAs("nobody"), nullptr, "pgjobs roles test");
  Status st = migrate::Migrator(conn, *catalog).CheckCurrent();
  EXPECT_EQ(Status::Code::kPermissionDenied, st.code()) << st.message();
  EXPECT_HAS(st.message(), "permission denied for schema " + S());
  EXPECT_HAS(st.message(), "this database role has no right on schema " + S() +
                               "; as the schema's owner, grant it the role for its job: " + S() +
                               "_worker (workers)");
  EXPECT_EQ(std::string::npos, st.message().find("SQLSTATE ]")) << st.message();
  pg::Connection worker(DsnAs("worker"), nullptr, "pgjobs roles test");
  EXPECT_TRUE(migrate::Migrator(worker, *catalog).CheckCurrent().ok());
}

TEST_F(RolesTest, GrantingAgainFollowsNewTablesAndTakesBackStrayRights) {
  Su("GRANT DELETE ON " + S() + ".jobs TO " + S() + "_producer");
  auto catalog = SqlCatalog::Load(S());
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(schema_.dsn(), nullptr, "pgjobs tests");
  auto granted = migrate::Migrator(conn, *catalog).GrantRoles(false);
  ASSERT_TRUE(granted.ok()) << granted.status().message();
  EXPECT_EQ(4u, granted->size());
  ExpectDenied("producer", "DELETE FROM @schema@.jobs");
}

TEST_F(RolesTest, CreatingRolesWithoutCreateroleSaysWhatToDo) {
  Su("DROP OWNED BY " + S() + "_producer; DROP ROLE " + Login("producer") + "; DROP ROLE " + S() +
     "_producer");
  Su("ALTER SCHEMA " + S() + " OWNER TO " + Login("nobody"));
  Su("ALTER FUNCTION " + S() + ".grant_roles(boolean) OWNER TO " + Login("nobody"));
  auto catalog = SqlCatalog::Load(S());
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(DsnAs("nobody"), nullptr, "pgjobs tests");
  auto granted = migrate::Migrator(conn, *catalog).GrantRoles(true);
  ASSERT_FALSE(granted.ok());
  EXPECT_NE(std::string::npos, granted.status().message().find("CREATEROLE"))
      << granted.status().message();
  EXPECT_NE(std::string::npos, granted.status().message().find("pgjobs migrate --create-roles"))
      << granted.status().message();
}

}  // namespace
}  // namespace pgjobs
