// Who did what, and when: every action from the dashboard and from the admin
// CLI writes one audit_log row, with the right actor, in the action's own
// transaction; the job and schedule pages, /actions and `pgjobs audit` show
// them. And the read-only dashboard: --read-only refuses every action, and
// the <schema>_reader database role serves every page but can change nothing.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "common/sql_catalog.h"
#include "migrate/migrator.h"
#include "pg/connection.h"
#include "store/audit.h"
#include "tests/e2e/cli_run.h"
#include "tests/support/expect_has.h"
#include "tests/web/web_fixture.h"
#include "web/auth.h"

namespace pgjobs::testing {
namespace {

using nlohmann::json;

class WebAuditTest : public WebTest {
 protected:
  // Starts the dashboard with alice (admin) and returns her headers, CSRF
  // token included.
  httplib::Headers StartAsAlice(web::WebOptions o = {}) {
    std::string users = dir_ + "/users";
    EXPECT_TRUE(web::AddUser(users, "alice", "admin", "correct horse").ok());
    o.users_file = users;
    StartServer(o);
    httplib::Headers h = {{"Authorization", Basic("alice", "correct horse")}};
    auto r = Get("/api/queues", h);
    h.emplace("X-CSRF-Token", r ? r->get_header_value("X-CSRF-Token") : "");
    return h;
  }
  json Audit() {
    return json::parse(Q("SELECT coalesce(json_agg(a ORDER BY id), '[]') FROM (SELECT id, actor, "
                         "action, target, details FROM " + S() + ".audit_log) a"));
  }
  // "action target actor" per row, in order.
  std::vector<std::string> Lines() {
    std::vector<std::string> out;
    for (const json& a : Audit()) {
      out.push_back(a["action"].get<std::string>() + " " + a["target"].get<std::string>() + " " +
                    a["actor"].get<std::string>());
    }
    return out;
  }
  json Ok(const std::string& path, const httplib::Headers& h) {
    auto r = Post(path, h);
    EXPECT_TRUE(r && r->status == 200) << path << ": " << (r ? r->body : "no answer");
    return r && r->status == 200 ? json::parse(r->body) : json::object();
  }
  void AddNightly() {
    X("INSERT INTO " + S() + ".schedules (name, kind, cron, task) VALUES ('nightly', 'cron', "
      "'0 3 * * *', 'report.build')");
  }
};

TEST_F(WebAuditTest, EveryDashboardActionIsRecordedWithTheUserAndTheTime) {
  SeedEveryState();
  AddNightly();
  std::string s = S();
  std::string pending = Insert("mail.send", "{}", "emails");
  std::string running = Q("SELECT id FROM " + s + ".jobs WHERE state = 'running'");
  std::string failed = Q("SELECT id FROM " + s + ".job_history WHERE state = 'failed'");
  httplib::Headers h = StartAsAlice();

  EXPECT_EQ("cancelled", Ok("/api/jobs/" + pending + "/cancel", h)["outcome"]);
  EXPECT_EQ("stopping", Ok("/api/jobs/" + running + "/cancel", h)["outcome"]);
  json retry = Ok("/api/jobs/" + failed + "/retry", h);
  Ok("/api/queues/emails/pause", h);
  Ok("/api/queues/emails/resume", h);
  json purge = Ok("/api/queues/emails/purge", h);
  Ok("/api/schedules/nightly/disable", h);
  Ok("/api/schedules/nightly/enable", h);
  json run = Ok("/api/schedules/nightly/run", h);

  EXPECT_EQ((std::vector<std::string>{
                "job.cancel " + pending + " alice@web", "job.cancel " + running + " alice@web",
                "job.retry " + failed + " alice@web", "queue.pause emails alice@web",
                "queue.resume emails alice@web", "queue.purge emails alice@web",
                "schedule.disable nightly alice@web", "schedule.enable nightly alice@web",
                "schedule.run_now nightly alice@web"}),
            Lines());
  json rows = Audit();
  EXPECT_EQ("cancelled", rows[0]["details"]["outcome"]);
  EXPECT_EQ("stopping", rows[1]["details"]["outcome"]);
  EXPECT_EQ(retry["new_id"], rows[2]["details"]["new_id"]);
  EXPECT_EQ(purge["purged"], rows[5]["details"]["purged"]);
  EXPECT_EQ(true, rows[6]["details"]["changed"]);
  EXPECT_EQ(run["job_id"], rows[8]["details"]["job_id"]);
  EXPECT_EQ("t", Q("SELECT bool_and(at BETWEEN now() - interval '1 minute' AND now()) FROM " + s +
                   ".audit_log"));

  // A job's page and API show its actions; so does a schedule's.
  json job = json::parse(Get("/api/jobs/" + running, h)->body);
  ASSERT_EQ(1u, job["actions"].size());
  EXPECT_EQ("alice@web", job["actions"][0]["actor"]);
  EXPECT_EQ("job.cancel", job["actions"][0]["action"]);
  std::string page = Get("/jobs/" + running, h)->body;
  EXPECT_HAS(page, "<h2>Actions</h2>");
  EXPECT_HAS(page, "alice@web");
  EXPECT_HAS(page, "job.cancel");
  json schedule = json::parse(Get("/api/schedules/nightly", h)->body);
  ASSERT_EQ(3u, schedule["actions"].size());
  EXPECT_EQ("schedule.run_now", schedule["actions"][0]["action"]);  // newest first
  EXPECT_HAS(Get("/schedules/nightly", h)->body, "schedule.disable");
  // A schedule's JSON leaves out fields at their default; the list shows them.
  for (int i = 0; i < 20; ++i) {
    auto list = Get("/schedules", h);
    ASSERT_EQ(200, list->status);
    EXPECT_HAS(list->body, "<td>UTC</td>");
    EXPECT_HAS(list->body, "<td>default</td>");
  }

  // The recent-actions list, its filters and its errors.
  json all = json::parse(Get("/api/actions", h)->body);
  ASSERT_EQ(9u, all.size());
  EXPECT_EQ("schedule.run_now", all[0]["action"]);
  EXPECT_EQ(3u, json::parse(Get("/api/actions?kind=queue", h)->body).size());
  EXPECT_EQ(1u, json::parse(Get("/api/actions?kind=queue.purge", h)->body).size());
  EXPECT_EQ(3u, json::parse(Get("/api/actions?target=nightly", h)->body).size());
  EXPECT_EQ(0u, json::parse(Get("/api/actions?actor=bob@web", h)->body).size());
  EXPECT_EQ(2u, json::parse(Get("/api/actions?limit=2", h)->body).size());
  EXPECT_EQ(all[1]["id"],
            json::parse(Get("/api/actions?limit=1&before=" + all[0]["id"].dump(), h)->body)[0]["id"]);
  auto list = Get("/actions", h);
  EXPECT_EQ(200, list->status);
  EXPECT_HAS(list->body, "queue.purge");
  EXPECT_HAS(list->body, "href=\"/jobs/" + pending + "\"");
  auto bad = Get("/api/actions?limit=0", h);
  EXPECT_EQ(400, bad->status);
  EXPECT_HAS(bad->body, "limit must be a number from 1 to 1000");
  bad = Get("/api/actions?since=soon", h);
  EXPECT_EQ(400, bad->status);
  EXPECT_HAS(bad->body, "since");
  bad = Get("/api/actions?before=x1", h);
  EXPECT_EQ(400, bad->status);
  EXPECT_HAS(bad->body, "before must be an action id");
}

TEST_F(WebAuditTest, AFailedActionLeavesNoRowAndAnUnwritableRowUndoesTheAction) {
  SeedEveryState();
  std::string succeeded = Q("SELECT id FROM " + S() + ".job_history WHERE state = 'succeeded'");
  httplib::Headers h = StartAsAlice();
  EXPECT_EQ(409, Post("/api/jobs/" + succeeded + "/cancel", h)->status);
  EXPECT_EQ(409, Post("/api/jobs/" + succeeded + "/retry", h)->status);
  EXPECT_EQ(404, Post("/api/queues/nope/pause", h)->status);
  EXPECT_EQ(404, Post("/api/schedules/nope/run", h)->status);
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".audit_log"));

  // The row is written in the action's transaction: when it cannot be
  // written, the action does not happen either.
  X("CREATE FUNCTION " + S() + ".refuse() RETURNS trigger LANGUAGE plpgsql AS "
    "$$BEGIN RAISE EXCEPTION 'audit refused'; END$$");
  X("CREATE TRIGGER refuse BEFORE INSERT ON " + S() + ".audit_log FOR EACH ROW EXECUTE FUNCTION " +
    S() + ".refuse()");
  auto r = Post("/api/queues/default/pause", h);
  EXPECT_NE(200, r->status);
  EXPECT_HAS(r->body, "audit refused");
  EXPECT_EQ("f", Q("SELECT coalesce((SELECT paused FROM " + S() +
                   ".queues WHERE name = 'default'), false)"));
  std::string pending = Insert("mail.send");
  EXPECT_NE(200, Post("/api/jobs/" + pending + "/cancel", h)->status);
  EXPECT_EQ("pending", Q("SELECT state FROM " + S() + ".jobs WHERE id = " + pending));
}

std::string Host() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

// The account of this process's uid, as the password database names it.
std::string Account() {
  const passwd* pw = getpwuid(getuid());
  return pw != nullptr ? pw->pw_name : std::to_string(getuid());
}

std::string UserAtHost() {
  for (const char* name : {"USER", "LOGNAME"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return std::string(v) + "@" + Host();
  }
  return Account() + "@" + Host();
}

TEST_F(WebAuditTest, ACliActionWithoutUserOrLognameIsRecordedUnderTheAccountName) {
  // cron, systemd units and containers often set neither; the uid's number
  // ("0@host") told nobody who it was.
  Insert("mail.send", "{}", "emails");
  std::string user = std::getenv("USER") ? std::getenv("USER") : "";
  std::string logname = std::getenv("LOGNAME") ? std::getenv("LOGNAME") : "";
  unsetenv("USER");
  unsetenv("LOGNAME");
  Cli({"queues", "pause", "emails"});
  setenv("LOGNAME", "ops-cron", 1);
  Cli({"queues", "resume", "emails"});
  if (!user.empty()) setenv("USER", user.c_str(), 1);
  if (logname.empty()) {
    unsetenv("LOGNAME");
  } else {
    setenv("LOGNAME", logname.c_str(), 1);
  }
  EXPECT_EQ((std::vector<std::string>{"queue.pause emails " + Account() + "@" + Host(),
                                      "queue.resume emails ops-cron@" + Host()}),
            Lines());
}

TEST_F(WebAuditTest, EveryCliActionIsRecordedAsUserAtHostAndAuditListsThem) {
  SeedEveryState();
  AddNightly();
  std::string s = S();
  std::string pending = Insert("mail.send", "{}", "emails");
  std::string failed = Q("SELECT id FROM " + s + ".job_history WHERE state = 'failed'");
  Cli({"jobs", "cancel", pending});
  Cli({"jobs", "retry", failed});
  Cli({"jobs", "retry", "--failed"});
  Cli({"queues", "pause", "emails"});
  Cli({"queues", "resume", "emails"});
  Cli({"queues", "set", "emails", "--concurrency", "3"});
  Cli({"queues", "set", "emails", "--notify", "off"});
  Cli({"jobs", "purge", "--queue", "emails", "--yes"});
  Cli({"jobs", "cancel", "--queue", "default"});
  Cli({"schedules", "add", "hourly", "--every", "1h", "--task", "report.build"});
  Cli({"schedules", "update", "hourly", "--every", "2h"});
  Cli({"schedules", "disable", "nightly"});
  Cli({"schedules", "enable", "nightly"});
  Cli({"schedules", "run-now", "nightly"});
  Cli({"schedules", "remove", "hourly"});
  Cli({"workers", "stop", "w-test"});

  std::string me = UserAtHost();
  EXPECT_EQ((std::vector<std::string>{
                "job.cancel " + pending + " " + me, "job.retry " + failed + " " + me,
                "job.retry_failed * " + me, "queue.pause emails " + me,
                "queue.resume emails " + me, "queue.limits emails " + me,
                "queue.notify emails " + me, "queue.purge emails " + me,
                "queue.cancel default " + me, "schedule.create hourly " + me,
                "schedule.update hourly " + me, "schedule.disable nightly " + me,
                "schedule.enable nightly " + me, "schedule.run_now nightly " + me,
                "schedule.remove hourly " + me, "worker.stop w-test " + me}),
            Lines());
  json rows = Audit();
  EXPECT_EQ(0, rows[2]["details"]["retried"]);  // the one failed job was retried already
  EXPECT_EQ(3, rows[5]["details"]["concurrency"]);
  EXPECT_EQ(false, rows[6]["details"]["notify"]);
  EXPECT_EQ(json::array({"every '1h' -> '2h'"}), rows[10]["details"]["changes"]);

  json listed = json::parse(Cli({"audit", "--json"}));
  ASSERT_EQ(16u, listed.size());
  EXPECT_EQ("worker.stop", listed[0]["action"]);
  for (const char* k : {"id", "at", "actor", "action", "target", "details"}) {
    EXPECT_TRUE(listed[0].contains(k)) << k;
  }
  EXPECT_EQ(5u, json::parse(Cli({"audit", "--json", "--kind", "queue", "--target", "emails"})).size());
  EXPECT_EQ(2u, json::parse(Cli({"audit", "--json", "--limit", "2", "--since", "1h"})).size());
  std::string table = Cli({"audit", "--target", "nightly"});
  EXPECT_HAS(table, "ACTION");
  EXPECT_HAS(table, "schedule.run_now");
  EXPECT_HAS(table, me);
  CliRun r = RunCli(dir_, {"--dsn", schema_.dsn(), "--schema", s, "audit", "--limit", "0"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--limit 0 is out of range");
  r = RunCli(dir_, {"--dsn", schema_.dsn(), "--schema", s, "audit", "--since", "soon"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--since");
  // --kind is a closed set: a typo is refused, not "no actions match".
  r = RunCli(dir_, {"--dsn", schema_.dsn(), "--schema", s, "audit", "--kind", "jobs"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--kind \"jobs\" is neither a kind");
  EXPECT_HAS(r.err, "did you mean \"job\"?");
  EXPECT_EQ(1u, json::parse(Cli({"audit", "--json", "--kind", "queue.notify"})).size());
  // Every action the commands above recorded is one --kind accepts.
  for (const json& a : Audit()) {
    const auto& known = store::AuditActions();
    EXPECT_NE(known.end(), std::find(known.begin(), known.end(), a["action"].get<std::string>()))
        << a["action"];
  }
}

TEST_F(WebAuditTest, ChoosingAQueuesBrokerIsRecordedLikeEveryOtherQueueSetting) {
  Insert("mail.send", "{}", "emails");
  Cli({"queues", "set", "emails", "--broker", "redis"});
  Cli({"queues", "set", "emails", "--broker", "postgres"});
  std::string me = UserAtHost();
  EXPECT_EQ((std::vector<std::string>{"queue.broker emails " + me, "queue.broker emails " + me}),
            Lines());
  json rows = Audit();
  EXPECT_EQ("redis", rows[0]["details"]["broker"]);
  EXPECT_EQ("postgres", rows[1]["details"]["broker"]);
  EXPECT_EQ("postgres", Q("SELECT broker FROM " + S() + ".queues WHERE name = 'emails'"));
  Cli({"queues", "set", "emails", "--broker", "redis"});
  json listed = json::parse(Cli({"queues", "list", "--json"}));
  ASSERT_EQ(1u, listed.size());
  EXPECT_EQ("redis", listed[0]["broker"]);  // the listing shows which broker carries it
}

TEST_F(WebAuditTest, AReadOnlyDashboardRefusesEveryActionAndShowsNoButtons) {
  SeedEveryState();
  AddNightly();
  std::string pending = Insert("mail.send", "{}", "emails");
  web::WebOptions o;
  o.read_only = true;
  httplib::Headers h = StartAsAlice(o);
  for (const std::string& path :
       {"/api/jobs/" + pending + "/cancel", std::string("/api/queues/emails/pause"),
        std::string("/api/queues/emails/purge"), std::string("/api/schedules/nightly/run")}) {
    auto r = Post(path, h);
    EXPECT_EQ(403, r->status) << path;
    EXPECT_HAS(r->body, "read-only");
  }
  EXPECT_EQ("pending", Q("SELECT state FROM " + S() + ".jobs WHERE id = " + pending));
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".audit_log"));
  std::string page = Get("/jobs/" + pending, h)->body;
  EXPECT_EQ(std::string::npos, page.find("data-action")) << "no buttons on a read-only dashboard";
  EXPECT_EQ(std::string::npos, Get("/", h)->body.find("data-action"));
}

class WebReaderRoleTest : public WebAuditTest {
 protected:
  void TearDown() override {
    WebAuditTest::TearDown();
    for (const char* kind : {"producer", "worker", "admin", "reader"}) {
      QueryValue(schema_.dsn(), "DROP OWNED BY " + S() + "_" + kind);
      QueryValue(schema_.dsn(), "DROP ROLE IF EXISTS " + S() + "_" + kind);
    }
    QueryValue(schema_.dsn(), "DROP OWNED BY " + Login());
    QueryValue(schema_.dsn(), "DROP ROLE IF EXISTS " + Login());
  }
  std::string Login() { return S() + "_login_viewer"; }
};

TEST_F(WebReaderRoleTest, TheReaderRoleServesEveryPageAndCannotAct) {
  SeedEveryState();
  AddNightly();
  std::string pending = Insert("mail.send", "{}", "emails");
  auto catalog = SqlCatalog::Load(S());
  ASSERT_TRUE(catalog.ok());
  pg::Connection conn(schema_.dsn(), nullptr, "pgjobs tests");
  auto granted = migrate::Migrator(conn, *catalog).GrantRoles(true);
  ASSERT_TRUE(granted.ok()) << granted.status().message();
  X("CREATE ROLE " + Login() + " LOGIN IN ROLE " + S() + "_reader");

  // A dashboard connected as the reader, without --read-only: every page
  // answers, and an action is refused by PostgreSQL itself.
  web::WebOptions o;
  o.dsn = schema_.dsn() + " user=" + Login();
  StartServer(o);
  for (const std::string& path :
       {std::string("/"), std::string("/jobs"), "/jobs/" + pending, std::string("/schedules"),
        std::string("/schedules/nightly"), std::string("/workers"), std::string("/tasks"),
        std::string("/actions"), std::string("/metrics"), std::string("/api/stats")}) {
    auto r = Get(path);
    EXPECT_EQ(200, r->status) << path << ": " << r->body;
  }
  std::string csrf = Get("/api/queues")->get_header_value("X-CSRF-Token");
  auto r = Post("/api/jobs/" + pending + "/cancel", {{"X-CSRF-Token", csrf}});
  EXPECT_EQ(403, r->status);
  EXPECT_HAS(r->body, "permission denied");
  EXPECT_EQ("pending", Q("SELECT state FROM " + S() + ".jobs WHERE id = " + pending));
}

}  // namespace
}  // namespace pgjobs::testing
