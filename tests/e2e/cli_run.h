// Runs the pgjobs binary with stdout and stderr kept apart and standard input
// given as text, for tests of what goes to which stream.
#ifndef PGJOBS_TESTS_E2E_CLI_RUN_H_
#define PGJOBS_TESTS_E2E_CLI_RUN_H_

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/child_process.h"
#include "tests/support/test_cluster.h"

namespace pgjobs::testing {

struct CliRun {
  int rc = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// pgjobs ARGS in dir (a scratch directory of the test), stdin_text on its
// standard input.
inline CliRun RunCli(const std::string& dir, const std::vector<std::string>& args,
                     const std::string& stdin_text = "") {
  std::string in = dir + "/cli.stdin";
  std::string out = dir + "/cli.stdout";
  std::ofstream(in) << stdin_text;
  std::vector<std::string> argv = {"/bin/sh", "-c",
                                   "exec \"$0\" \"$@\" <'" + in + "' >'" + out + "'", BinaryPath()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto [rc, err] = RunToEnd(argv);
  return {rc, ReadFile(out), err};
}

}  // namespace pgjobs::testing

#endif  // PGJOBS_TESTS_E2E_CLI_RUN_H_
