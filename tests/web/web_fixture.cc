#include "tests/web/web_fixture.h"

#include <unistd.h>

#include "tests/e2e/cli_run.h"

namespace pgjobs::testing {

void WebTest::SetUp() {
  char tmpl[] = "/tmp/pgjobs-web.XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(tmpl));
  dir_ = tmpl;
}

void WebTest::TearDown() {
  StopServer();
  std::system(("rm -rf " + dir_).c_str());
}

void WebTest::StartServer(web::WebOptions options) {
  if (options.dsn.empty()) options.dsn = schema_.dsn();
  options.schema = S();
  if (options.listen == "127.0.0.1:8080") options.listen = "127.0.0.1:0";
  auto server = web::WebServer::Create(options);
  ASSERT_TRUE(server.ok()) << server.status().message();
  server_ = std::move(*server);
  Status st = server_->Bind();
  ASSERT_TRUE(st.ok()) << st.message();
  port_ = server_->port();
  serving_ = std::thread([this] { (void)server_->Run(); });
}

void WebTest::StopServer() {
  if (server_) server_->Stop();
  if (serving_.joinable()) serving_.join();
  server_.reset();
}

httplib::Client WebTest::Client() const {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(10, 0);
  return c;
}

httplib::Result WebTest::Get(const std::string& path, const httplib::Headers& headers) const {
  auto c = Client();
  auto res = c.Get(path.c_str(), headers);
  EXPECT_TRUE(res) << "no answer to GET " << path;
  return res;
}

httplib::Result WebTest::Post(const std::string& path, const httplib::Headers& headers) const {
  auto c = Client();
  return c.Post(path.c_str(), headers, "", "application/json");
}

std::string Basic(const std::string& user, const std::string& password) {
  std::string plain = user + ":" + password, out;
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 2 < plain.size(); i += 3) {
    unsigned v = (unsigned char)plain[i] << 16 | (unsigned char)plain[i + 1] << 8 | (unsigned char)plain[i + 2];
    for (int k = 18; k >= 0; k -= 6) out += kAlphabet[(v >> k) & 63];
  }
  if (plain.size() - i == 1) {
    unsigned v = (unsigned char)plain[i] << 16;
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (plain.size() - i == 2) {
    unsigned v = (unsigned char)plain[i] << 16 | (unsigned char)plain[i + 1] << 8;
    out += std::string{kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return "Basic " + out;
}

std::string WebTest::Insert(const std::string& task, const std::string& args,
                            const std::string& queue) {
  return Q("INSERT INTO " + S() + ".jobs (task, args, queue) VALUES ($$" + task + "$$, $$" +
           args + "$$::jsonb, $$" + queue + "$$) RETURNING id");
}

void WebTest::SeedEveryState() {
  std::string s = S();
  Insert("mail.send", R"({"to": "a@example.com"})", "emails");
  X("INSERT INTO " + s + ".jobs (task, queue, run_at) VALUES ('mail.send', 'emails', now() + interval '1 hour')");
  X("INSERT INTO " + s + ".workers (id, host, pid, queues, tasks, version, started_at, heartbeat_at) "
    "VALUES ('w-test', 'host1', 4242, '{\"default\": 2}', '[\"report.build\"]', 'test', now(), now())");
  X("INSERT INTO " + s + ".jobs (task, queue, state, attempt, lease_owner, lease_expires_at, started_at) "
    "VALUES ('report.build', 'default', 'running', 1, 'w-test', now() + interval '1 minute', now())");
  for (const char* state : {"succeeded", "failed", "cancelled"}) {
    X("INSERT INTO " + s + ".job_history (id, queue, task, args, priority, state, attempt, "
      "max_attempts, errors, created_at, run_at, started_at, finished_at) VALUES (nextval(pg_get_serial_sequence('" +
      s + ".jobs', 'id')), 'default', 'report.build', '{}', 5, '" + state + "', 2, 4, "
      "'[{\"attempt\": 1, \"error\": \"boom\"}]', now() - interval '3 minutes', "
      "now() - interval '3 minutes', now() - interval '2 minutes', now() - interval '1 minute')");
  }
}

std::string WebTest::Cli(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"--dsn", schema_.dsn(), "--schema", S()};
  all.insert(all.end(), args.begin(), args.end());
  CliRun r = RunCli(dir_, all);
  EXPECT_EQ(0, r.rc) << r.err;
  return r.out;
}

}  // namespace pgjobs::testing
