// A small W3C WebDriver client for Debian's chromedriver driving Debian's
// headless Chromium: enough to open pages, read them, click, accept the
// confirmation dialogs and take screenshots. No npm, no downloads.
#ifndef PGJOBS_TESTS_WEB_WEBDRIVER_H_
#define PGJOBS_TESTS_WEB_WEBDRIVER_H_

#include <httplib.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/child_process.h"

namespace pgjobs::testing {

class Browser {
 public:
  // Starts chromedriver on a free port and a headless Chromium session with
  // a new profile under dir. ok() is false (with error()) when either is
  // missing or fails.
  explicit Browser(const std::string& dir);
  ~Browser();
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  bool ok() const { return !session_.empty(); }
  const std::string& error() const { return error_; }

  void Open(const std::string& url);
  // Runs a script (a function body: `return ...`) in the page; its value.
  nlohmann::json Eval(const std::string& script);
  // Clicks the first element matching css; false if there is none.
  bool Click(const std::string& css);
  // Accepts the open alert or confirm dialog and returns its text ("" if
  // none is open).
  std::string AcceptDialog();
  // Saves a PNG screenshot of the page to path.
  bool Screenshot(const std::string& path);

 private:
  nlohmann::json Call(const std::string& method, const std::string& path,
                      const nlohmann::json& body = nlohmann::json::object());

  std::unique_ptr<ChildProcess> driver_;
  std::unique_ptr<httplib::Client> http_;
  std::string session_;
  std::string error_;
};

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_WEB_WEBDRIVER_H_
