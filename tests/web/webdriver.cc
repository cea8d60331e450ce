#include "tests/web/webdriver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "tests/support/test_cluster.h"
#include "web/auth.h"

namespace pgjobs::testing {

using nlohmann::json;

namespace {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

}  // namespace

Browser::Browser(const std::string& dir) {
  for (const char* tool : {"/usr/bin/chromium", "/usr/bin/chromedriver"}) {
    if (access(tool, X_OK) != 0) {
      error_ = std::string(tool) + " is missing: run tools/install-deps (packages chromium, chromium-driver)";
      return;
    }
  }
  int port = FreePort();
  driver_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"/usr/bin/chromedriver", "--port=" + std::to_string(port)},
      dir + "/chromedriver.log");
  http_ = std::make_unique<httplib::Client>("127.0.0.1", port);
  http_->set_read_timeout(60, 0);
  bool up = Eventually([&] {
    auto r = http_->Get("/status");
    return r && r->status == 200;
  }, std::chrono::seconds(20));
  if (!up) {
    error_ = "chromedriver did not start: " + driver_->Log();
    return;
  }
  json args = {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--window-size=1280,900",
               "--user-data-dir=" + dir + "/chromium-profile"};
  json caps = {{"capabilities",
                {{"alwaysMatch",
                  {{"browserName", "chrome"},
                   {"unhandledPromptBehavior", "ignore"},
                   {"goog:chromeOptions", {{"binary", "/usr/bin/chromium"}, {"args", args}}}}}}}};
  auto r = http_->Post("/session", caps.dump(), "application/json");
  if (!r || r->status != 200) {
    error_ = "cannot start a Chromium session: " + (r ? r->body : std::string("no answer")) +
             "\n" + driver_->Log();
    return;
  }
  session_ = json::parse(r->body)["value"]["sessionId"].get<std::string>();
}

Browser::~Browser() {
  if (!session_.empty()) http_->Delete(("/session/" + session_).c_str());
}

json Browser::Call(const std::string& method, const std::string& path, const json& body) {
  std::string url = "/session/" + session_ + path;
  httplib::Result r = method == "GET" ? http_->Get(url.c_str())
                                      : http_->Post(url.c_str(), body.dump(), "application/json");
  if (!r) return json{{"error", "no answer from chromedriver"}};
  json j = json::parse(r->body, nullptr, false);
  return j.is_discarded() ? json{{"error", r->body}} : j["value"];
}

void Browser::Open(const std::string& url) { Call("POST", "/url", {{"url", url}}); }

json Browser::Eval(const std::string& script) {
  return Call("POST", "/execute/sync", {{"script", script}, {"args", json::array()}});
}

bool Browser::Click(const std::string& css) {
  json el = Call("POST", "/element", {{"using", "css selector"}, {"value", css}});
  if (!el.is_object() || el.contains("error")) return false;
  std::string id = el.begin().value().get<std::string>();
  json r = Call("POST", "/element/" + id + "/click");
  return !(r.is_object() && r.contains("error"));
}

std::string Browser::AcceptDialog() {
  json text = Call("GET", "/alert/text");
  if (!text.is_string()) return "";
  Call("POST", "/alert/accept");
  return text.get<std::string>();
}

bool Browser::Screenshot(const std::string& path) {
  json png = Call("GET", "/screenshot");
  if (!png.is_string()) return false;
  auto bytes = web::DecodeBase64(png.get<std::string>());
  if (!bytes) return false;
  std::ofstream(path, std::ios::binary) << *bytes;
  return true;
}

}  // namespace pgjobs::testing
