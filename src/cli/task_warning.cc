#include "cli/task_warning.h"

#include <cstdio>

#include "common/text.h"

namespace pgjobs::cli {
namespace {

std::string QuotedList(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "\"" : ", \"") + w + "\"";
  return out;
}

}  // namespace

std::string NoWorkerWarning(const store::TaskCoverage& coverage, const std::string& task,
                            const std::string& queue, const std::string& waits) {
  if (coverage.handled) return "";
  std::string message =
      "warning: no live worker handles task \"" + task + "\" on queue \"" + queue + "\"";
  if (coverage.live_workers == 0) {
    message += ": no worker is running (none has sent a heartbeat within its lease).";
  } else if (!coverage.queues_for_task.empty()) {
    message += "; live workers run it on queue " + QuotedList(coverage.queues_for_task) +
               " (--queue chooses the queue).";
  } else {
    const std::vector<std::string>& near =
        coverage.tasks_on_queue.empty() ? coverage.all_tasks : coverage.tasks_on_queue;
    std::string nearest = NearestWord(task, near);
    message += nearest.empty() ? "." : "; did you mean \"" + nearest + "\"?";
    if (coverage.tasks_on_queue.empty()) {
      message += " No live worker serves queue \"" + queue + "\"; live workers handle " +
                 QuotedList(coverage.all_tasks) + " on other queues.";
    } else {
      message += " Live workers on queue \"" + queue + "\" handle " +
                 QuotedList(coverage.tasks_on_queue) + ".";
    }
  }
  return message + " " + waits +
         ", with no attempt used, until a worker that handles it runs on that queue.";
}

void WarnIfNoWorker(pg::Connection& conn, const SqlCatalog& catalog, const std::string& task,
                    const std::string& queue, const std::string& waits) {
  auto coverage = store::GetTaskCoverage(conn, catalog, task, queue);
  if (!coverage.ok()) return;
  std::string warning = NoWorkerWarning(*coverage, task, queue, waits);
  if (!warning.empty()) std::fprintf(stderr, "pgjobs: %s\n", warning.c_str());
}

}  // namespace pgjobs::cli
