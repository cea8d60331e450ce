// The pgjobs Python module's own tests (tests/python/test_*.py, Python's
// unittest), run against the throwaway PostgreSQL with a `pgjobs worker`
// whose Django runner executes the jobs they enqueue.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/child_process.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;

TEST(PythonModuleTest, TheProducerTestsPassAgainstARealWorker) {
  testing::TestSchema schema;
  char tmpl[] = "/tmp/pgjobs-python.XXXXXX";
  ASSERT_NE(nullptr, mkdtemp(tmpl));
  const std::string dir = tmpl;
  const std::string src = testing::SourceDir();
  const std::string python_path = src + "/src/python:" + src + "/tests/python/djangoproject";
  const std::string config = dir + "/pgjobs.conf";
  std::ofstream(config) << "{\"dsn\": \"" << schema.dsn() << "\", \"schema\": \"" << schema.name()
                        << "\", \"worker\": {\"queues\": {\"default\": 2}, \"poll_interval\": "
                           "\"100ms\"}, \"tasks\": {\"django\": {\"kind\": \"runner\", "
                           "\"command\": [\"/usr/bin/python3\", \"-m\", \"pgjobs.runner\", "
                           "\"--django-settings\", \"testproj.settings\", \"testproj.tasks\"], "
                           "\"env\": {\"PYTHONPATH\": \""
                        << python_path
                        << "\", \"PYTHONDONTWRITEBYTECODE\": \"1\", \"PGJOBS_TEST_DSN\": \""
                        << schema.dsn() << "\"}, \"serves\": [\"testproj.tasks.*\"]}}}\n";
  testing::ChildProcess worker({testing::BinaryPath(), "worker", "--config", config},
                               dir + "/worker.log");
  auto [rc, output] =
      testing::RunToEnd({"/usr/bin/python3", "-m", "unittest", "-v", "test_producer"}, 180s,
                        {{"PYTHONPATH", src + "/tests/python:" + python_path},
                         {"PGJOBS_TEST_DSN", schema.dsn()},
                         {"PGJOBS_TEST_SCHEMA", schema.name()},
                         {"PYTHONDONTWRITEBYTECODE", "1"}});
  EXPECT_EQ(0, rc) << output << "\n--- worker log ---\n" << worker.Log();
  EXPECT_NE(std::string::npos, output.find("OK")) << output;
  worker.Signal(SIGTERM);
  EXPECT_EQ(0, worker.Wait(30s).value_or(-1)) << worker.Log();
  std::system(("rm -rf " + dir).c_str());
}

}  // namespace
}  // namespace pgjobs
