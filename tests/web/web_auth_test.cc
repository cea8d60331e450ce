// Who may see and act: basic auth against a users file of Argon2id hashes,
// bearer tokens, the read role, CSRF on actions, and the refusal to listen
// beyond loopback without authentication.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/e2e/cli_run.h"
#include "tests/support/expect_has.h"
#include "tests/web/web_fixture.h"
#include "web/auth.h"

namespace pgjobs::testing {
namespace {

using nlohmann::json;

class WebAuthTest : public WebTest {
 protected:
  void StartWithUsers() {
    users_ = dir_ + "/users";
    ASSERT_TRUE(web::AddUser(users_, "alice", "admin", "correct horse").ok());
    ASSERT_TRUE(web::AddUser(users_, "bob", "read", "battery staple").ok());
    tokens_ = dir_ + "/tokens";
    std::ofstream(tokens_) << "admin:0123456789abcdef0123456789abcdef\nread:fedcba9876543210fedcba9876543210\n";
    chmod(tokens_.c_str(), 0600);
    web::WebOptions o;
    o.users_file = users_;
    o.token_file = tokens_;
    StartServer(o);
  }
  std::string Csrf(const httplib::Headers& auth) {
    auto r = Get("/api/queues", auth);
    return r ? r->get_header_value("X-CSRF-Token") : "";
  }
  std::string users_, tokens_;
};

TEST_F(WebAuthTest, WithAuthOnUnauthenticatedAndWrongPasswordRequestsGet401) {
  StartWithUsers();
  for (const char* path : {"/", "/jobs", "/api/jobs", "/metrics", "/api/queues"}) {
    auto r = Get(path);
    EXPECT_EQ(401, r->status) << path;
    EXPECT_HAS(r->get_header_value("WWW-Authenticate"), "Basic realm=\"pgjobs\"");
    EXPECT_EQ(401, Get(path, {{"Authorization", Basic("alice", "wrong password")}})->status) << path;
    EXPECT_EQ(401, Get(path, {{"Authorization", Basic("mallory", "correct horse")}})->status) << path;
    EXPECT_EQ(401, Get(path, {{"Authorization", "Bearer not-a-token-at-all"}})->status) << path;
    EXPECT_EQ(200, Get(path, {{"Authorization", Basic("alice", "correct horse")}})->status) << path;
    EXPECT_EQ(200, Get(path, {{"Authorization", Basic("bob", "battery staple")}})->status) << path;
    EXPECT_EQ(200, Get(path, {{"Authorization", "Bearer fedcba9876543210fedcba9876543210"}})->status) << path;
  }
  // The file holds Argon2id hashes, never the passwords.
  std::ifstream in(users_);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_HAS(text, "alice:admin:$argon2id$");
  EXPECT_EQ(std::string::npos, text.find("correct horse"));
  struct stat st {};
  ASSERT_EQ(0, stat(users_.c_str(), &st));
  EXPECT_EQ(0600u, st.st_mode & 0777);
}

TEST_F(WebAuthTest, AReadOnlyUserSeesButGets403OnActionsAndSeesNoButtons) {
  SeedEveryState();
  StartWithUsers();
  httplib::Headers bob = {{"Authorization", Basic("bob", "battery staple")}};
  EXPECT_EQ(std::string::npos, Get("/", bob)->body.find("data-action"));
  bob.emplace("X-CSRF-Token", Csrf(bob));
  auto r = Post("/api/queues/default/pause", bob);
  EXPECT_EQ(403, r->status);
  EXPECT_HAS(r->body, "read role");
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".queues WHERE paused"));
  r = Post("/api/queues/default/pause", {{"Authorization", "Bearer fedcba9876543210fedcba9876543210"}});
  EXPECT_EQ(403, r->status);
  httplib::Headers alice = {{"Authorization", Basic("alice", "correct horse")}};
  EXPECT_HAS(Get("/", alice)->body, "data-action=\"/api/queues/default/pause\"");
}

TEST_F(WebAuthTest, APostWithoutTheCsrfTokenIsRefusedAndWithItActs) {
  SeedEveryState();
  StartWithUsers();
  httplib::Headers alice = {{"Authorization", Basic("alice", "correct horse")}};
  auto r = Post("/api/queues/default/pause", alice);
  EXPECT_EQ(403, r->status);
  EXPECT_HAS(r->body, "CSRF");
  httplib::Headers wrong = alice;
  wrong.emplace("X-CSRF-Token", "00");
  EXPECT_EQ(403, Post("/api/queues/default/pause", wrong)->status);
  // bob's token is not alice's.
  httplib::Headers bob = {{"Authorization", Basic("bob", "battery staple")}};
  httplib::Headers borrowed = alice;
  borrowed.emplace("X-CSRF-Token", Csrf(bob));
  EXPECT_EQ(403, Post("/api/queues/default/pause", borrowed)->status);
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".queues WHERE paused"));
  alice.emplace("X-CSRF-Token", Csrf({{"Authorization", Basic("alice", "correct horse")}}));
  r = Post("/api/queues/default/pause", alice);
  ASSERT_EQ(200, r->status) << r->body;
  EXPECT_EQ("alice@web", json::parse(r->body)["by"]);
  EXPECT_EQ("t", Q("SELECT paused FROM " + S() + ".queues WHERE name = 'default'"));
  // A bearer token is never sent by a browser on its own: no CSRF token needed.
  r = Post("/api/queues/default/resume", {{"Authorization", "Bearer 0123456789abcdef0123456789abcdef"}});
  ASSERT_EQ(200, r->status) << r->body;
  EXPECT_EQ("f", Q("SELECT paused FROM " + S() + ".queues WHERE name = 'default'"));
}

TEST_F(WebAuthTest, ActionsCallTheStoreAndRecordWhoCancelled) {
  SeedEveryState();
  std::string id = Insert("mail.send", "{}", "emails");
  StartServer();
  std::string csrf = Csrf({});
  httplib::Headers h = {{"X-CSRF-Token", csrf}};
  auto r = Post("/api/jobs/" + id + "/cancel", h);
  ASSERT_EQ(200, r->status) << r->body;
  EXPECT_EQ("cancelled", json::parse(r->body)["outcome"]);
  EXPECT_EQ("cancelled|local@web", Q("SELECT state || '|' || cancelled_by FROM " + S() + ".job_history WHERE id = " + id));
  r = Post("/api/jobs/" + id + "/cancel", h);
  EXPECT_EQ(409, r->status);
  EXPECT_HAS(r->body, "already finished");
  r = Post("/api/jobs/" + id + "/retry", h);
  ASSERT_EQ(200, r->status) << r->body;
  std::string new_id = std::to_string(json::parse(r->body)["new_id"].get<int64_t>());
  EXPECT_EQ(id, Q("SELECT retry_of FROM " + S() + ".jobs WHERE id = " + new_id));
  r = Post("/api/queues/emails/purge", h);
  ASSERT_EQ(200, r->status) << r->body;
  EXPECT_EQ(3, json::parse(r->body)["purged"]);  // the pending, the scheduled and the retry
  EXPECT_EQ("0", Q("SELECT count(*) FROM " + S() + ".jobs WHERE queue = 'emails'"));
  X("INSERT INTO " + S() + ".schedules (name, kind, cron, task) VALUES ('nightly', 'cron', '0 3 * * *', 'report.build')");
  ASSERT_EQ(200, Post("/api/schedules/nightly/disable", h)->status);
  EXPECT_EQ("f", Q("SELECT enabled FROM " + S() + ".schedules WHERE name = 'nightly'"));
  r = Post("/api/schedules/nightly/run", h);
  ASSERT_EQ(200, r->status) << r->body;
  EXPECT_EQ("nightly", Q("SELECT s.name FROM " + S() + ".jobs j JOIN " + S() +
                         ".schedules s ON s.id = j.schedule_id WHERE j.id = " +
                         std::to_string(json::parse(r->body)["job_id"].get<int64_t>())));
  EXPECT_EQ(404, Post("/api/schedules/nope/run", h)->status);
  EXPECT_EQ(404, Post("/api/queues/nope/pause", h)->status);
  EXPECT_EQ(404, Post("/api/jobs/" + id + "/explode", h)->status);
  EXPECT_EQ(400, Post("/api/jobs/abc/cancel", h)->status);
}

TEST_F(WebAuthTest, WithoutAuthOnlyRequestsForALoopbackNameAreAnsweredAgainstDnsRebinding) {
  // A page on evil.example whose name now points at 127.0.0.1 reaches the
  // dashboard with its own name in Host: it must not read pages or act.
  StartServer();
  X("INSERT INTO " + S() + ".queues (name) VALUES ('mail')");
  const std::string port = ":" + std::to_string(port_);
  for (const std::string& evil :
       std::vector<std::string>{"evil.example" + port, "127.evil.example" + port,
                                "localhost.evil.example", "[fe80::1]" + port}) {
    auto r = Get("/", {{"Host", evil}});
    EXPECT_EQ(421, r->status) << evil;
    EXPECT_HAS(r->body,
               "answers only requests for localhost, 127.0.0.1, [::1] or its listen address");
    EXPECT_EQ("", r->get_header_value("X-CSRF-Token")) << evil;
    EXPECT_EQ(421, Get("/api/jobs", {{"Host", evil}})->status) << evil;
  }
  std::string csrf = Get("/api/queues")->get_header_value("X-CSRF-Token");
  ASSERT_FALSE(csrf.empty());
  auto r =
      Post("/api/queues/mail/pause", {{"Host", "evil.example" + port}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(421, r->status);
  EXPECT_EQ("f", Q("SELECT paused FROM " + S() + ".queues WHERE name = 'mail'"));
  for (const std::string& ours :
       std::vector<std::string>{"127.0.0.1" + port, "localhost" + port, "127.0.0.1"}) {
    EXPECT_EQ(200, Get("/", {{"Host", ours}})->status) << ours;
  }
  r = Post("/api/queues/mail/pause", {{"Host", "localhost" + port}, {"X-CSRF-Token", csrf}});
  EXPECT_EQ(200, r->status) << r->body;
  EXPECT_EQ("t", Q("SELECT paused FROM " + S() + ".queues WHERE name = 'mail'"));
}

TEST_F(WebAuthTest, ANamedTokenIsRecordedUnderItsNameAnUnnamedOneAsToken) {
  // Several scripts with tokens of their own could not be told apart in the
  // audit log: every one was "token@web".
  std::string tokens = dir_ + "/tokens";
  std::ofstream(tokens) << "ci-deploy:admin:0123456789abcdef0123456789abcdef\n"
                        << "admin:fedcba9876543210fedcba9876543210\n";
  chmod(tokens.c_str(), 0600);
  web::WebOptions o;
  o.token_file = tokens;
  StartServer(o);
  X("INSERT INTO " + S() + ".queues (name) VALUES ('mail')");
  auto r = Post("/api/queues/mail/pause",
                {{"Authorization", "Bearer 0123456789abcdef0123456789abcdef"}});
  ASSERT_EQ(200, r->status) << r->body;
  r = Post("/api/queues/mail/resume",
           {{"Authorization", "Bearer fedcba9876543210fedcba9876543210"}});
  ASSERT_EQ(200, r->status) << r->body;
  EXPECT_EQ("ci-deploy@web,token@web",
            Q("SELECT string_agg(actor, ',' ORDER BY id) FROM " + S() + ".audit_log"));
  std::ofstream(tokens) << "ci deploy:admin:0123456789abcdef0123456789abcdef\n";
  auto bad = web::Auth::Load("", tokens);
  ASSERT_FALSE(bad.ok());
  EXPECT_HAS(bad.status().message(), "expected ROLE:TOKEN or NAME:ROLE:TOKEN");
}

TEST_F(WebAuthTest, WithAuthAnyHostIsAnsweredForTheCredentialsAreTheGuard) {
  StartWithUsers();
  auto r = Get("/api/queues", {{"Host", "dashboard.internal:8080"},
                               {"Authorization", Basic("alice", "correct horse")}});
  EXPECT_EQ(200, r->status);
  EXPECT_EQ(401, Get("/api/queues", {{"Host", "dashboard.internal:8080"}})->status);
}

TEST_F(WebAuthTest, ASecondDashboardOnAPortInUseFailsToStart) {
  // cpp-httplib's default SO_REUSEPORT let two dashboards share a port.
  StartServer();
  web::WebOptions o;
  o.dsn = schema_.dsn();
  o.schema = S();
  o.listen = "127.0.0.1:" + std::to_string(port_);
  auto second = web::WebServer::Create(o);
  ASSERT_TRUE(second.ok()) << second.status().message();
  Status st = (*second)->Bind();
  EXPECT_FALSE(st.ok());
  EXPECT_HAS(st.message(), "cannot listen on 127.0.0.1:" + std::to_string(port_) + " (in use");
}

TEST_F(WebAuthTest, ListeningBeyondLoopbackWithoutAuthIsRefusedAndLooseFilesToo) {
  web::WebOptions o;
  o.listen = "0.0.0.0:8080";
  Status st = o.Validate();
  EXPECT_FALSE(st.ok());
  EXPECT_HAS(st.message(), "not a loopback address: give --users FILE");
  o.listen = "8080";
  EXPECT_HAS(o.Validate().message(), "listen must be HOST:PORT");
  o.listen = "127.0.0.1:8080";
  o.tls_cert = "/x.pem";
  EXPECT_HAS(o.Validate().message(), "tls_cert and tls_key go together");
  std::string loose = dir_ + "/loose";
  std::ofstream(loose) << "admin:0123456789abcdef0123456789abcdef\n";
  chmod(loose.c_str(), 0644);
  auto auth = web::Auth::Load("", loose);
  ASSERT_FALSE(auth.ok());
  EXPECT_HAS(auth.status().message(), "chmod 600 " + loose);
  chmod(loose.c_str(), 0600);
  std::ofstream(loose) << "root:short\n";
  auth = web::Auth::Load("", loose);
  ASSERT_FALSE(auth.ok());
  EXPECT_HAS(auth.status().message(), "expected ROLE:TOKEN or NAME:ROLE:TOKEN");
  EXPECT_HAS(web::AddUser(dir_ + "/u", "carol", "owner", "long enough").message(), "admin or read");
  EXPECT_HAS(web::AddUser(dir_ + "/u", "carol", "read", "short").message(), "at least 8");
  EXPECT_HAS(web::AddUser(dir_ + "/u", "ca rol", "read", "long enough").message(), "user name");
}

}  // namespace
}  // namespace pgjobs::testing

namespace pgjobs::testing {
namespace {

using WebCliTest = WebTest;

TEST_F(WebCliTest, TheConfigFilesWebSectionIsCheckedAndTheCommandLineWins) {
  std::string conf = dir_ + "/pgjobs.conf";
  auto write = [&](const std::string& web) {
    std::ofstream(conf) << "{\"dsn\": \"" << schema_.dsn() << "\", \"schema\": \"" << S()
                        << "\", \"web\": " << web << "}";
  };
  write("{\"lisen\": \"127.0.0.1:0\"}");
  CliRun r = RunCli(dir_, {"web", "--config", conf});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "lisen");
  EXPECT_HAS(r.err, "listen");
  write("{\"listen\": \"0.0.0.0:8080\"}");
  r = RunCli(dir_, {"web", "--config", conf});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "not a loopback address");
  write("{\"refresh\": \"often\"}");
  r = RunCli(dir_, {"web", "--config", conf});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "web.refresh must be a whole number");
  // --listen on the command line overrides the section's.
  write("{\"listen\": \"0.0.0.0:8080\", \"connections\": 0}");
  r = RunCli(dir_, {"web", "--config", conf, "--listen", "127.0.0.1:0", "--connections", "0"});
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "connections must be 1 to 64");
}

TEST_F(WebCliTest, AddUserWritesAnArgon2idHashFromStandardInput) {
  std::string users = dir_ + "/users";
  CliRun r = RunCli(dir_, {"web", "add-user", "carol", "--role", "read", "--users", users},
                    "a long password\n");
  ASSERT_EQ(0, r.rc) << r.err;
  EXPECT_HAS(ReadFile(users), "carol:read:$argon2id$");
  r = RunCli(dir_, {"web", "add-user", "carol", "--users", users}, "short\n");
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "at least 8 characters");
  r = RunCli(dir_, {"web", "add-user", "dave"}, "a long password\n");
  EXPECT_EQ(2, r.rc);
  EXPECT_HAS(r.err, "--users FILE is required");
}

}  // namespace
}  // namespace pgjobs::testing
