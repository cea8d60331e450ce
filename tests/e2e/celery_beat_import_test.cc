// `pgjobs schedules import-celery-beat` with real Django and django-celery-beat:
// tests/python/test_celery_beat_import.py (Python's unittest) makes the
// tables with django-celery-beat's migrations in a schema of their own, fills
// them through its models, imports, and compares fire times with Celery's.
#include <gtest/gtest.h>

#include "tests/support/child_process.h"
#include "tests/support/test_cluster.h"

namespace pgjobs {
namespace {

using namespace std::chrono_literals;

TEST(CeleryBeatImportTest, TheImportTestsPassAgainstDjangoCeleryBeatsOwnTables) {
  testing::TestSchema schema;
  const std::string beat_schema = "beat_" + schema.name();
  testing::Execute(schema.dsn(), "CREATE SCHEMA " + beat_schema);
  const std::string dsn = schema.dsn() + " options='-c search_path=" + beat_schema + "'";
  const std::string src = testing::SourceDir();
  auto [rc, output] = testing::RunToEnd(
      {"/usr/bin/python3", "-m", "unittest", "-v", "test_celery_beat_import"}, 180s,
      {{"PYTHONPATH",
        src + "/tests/python:" + src + "/src/python:" + src + "/tests/python/djangoproject"},
       {"PGJOBS_TEST_DSN", dsn},
       {"PGJOBS_TEST_SCHEMA", schema.name()},
       {"PGJOBS_BIN", testing::BinaryPath()},
       {"PYTHONDONTWRITEBYTECODE", "1"}});
  EXPECT_EQ(0, rc) << output;
  EXPECT_NE(std::string::npos, output.find("Ran 9 tests")) << output;
  EXPECT_NE(std::string::npos, output.find("OK")) << output;
  testing::Execute(schema.dsn(), "DROP SCHEMA " + beat_schema + " CASCADE");
}

}  // namespace
}  // namespace pgjobs
