// A fresh directory under /tmp for one test, removed with all it holds when
// the test's fixture is destroyed.
#ifndef PGJOBS_TESTS_SUPPORT_TEMP_DIR_H_
#define PGJOBS_TESTS_SUPPORT_TEMP_DIR_H_

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace pgjobs::testing {

class TempDir {
 public:
  // Creates /tmp/<prefix>.XXXXXX; throws (a test failure) if it cannot.
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = "/tmp/" + prefix + ".XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw std::runtime_error("cannot create " + tmpl + ": " + std::strerror(errno));
    }
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_SUPPORT_TEMP_DIR_H_
