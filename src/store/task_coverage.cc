#include "store/task_coverage.h"

#include <nlohmann/json.hpp>

namespace pgjobs::store {
namespace {

// A JSON array of strings, as task_coverage returns its lists.
std::vector<std::string> Strings(const std::string& json_text) {
  std::vector<std::string> out;
  nlohmann::json parsed = nlohmann::json::parse(json_text, nullptr, false);
  if (!parsed.is_array()) return out;
  for (const nlohmann::json& v : parsed) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

Result<TaskCoverage> GetTaskCoverage(pg::Connection& conn, const SqlCatalog& catalog,
                                     const std::string& task, const std::string& queue) {
  TaskCoverage coverage;
  Status st = conn.Transact([&](pg::Tx& tx) -> Status {
    auto rows = tx.ExecParams(catalog.Get("task_coverage"), {task, queue});
    if (!rows.ok()) return rows.status();
    coverage.handled = rows->Bool(0, 0);
    coverage.live_workers = rows->Int(0, 1);
    coverage.tasks_on_queue = Strings(rows->Text(0, 2));
    coverage.queues_for_task = Strings(rows->Text(0, 3));
    coverage.all_tasks = Strings(rows->Text(0, 4));
    return Status::Ok();
  });
  if (!st.ok()) return st.WithContext("which workers handle task " + task);
  return coverage;
}

}  // namespace pgjobs::store
