#include "cli/admin_common.h"

#include <pwd.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "common/text.h"
#include "migrate/migrator.h"
#include "store/job_admin.h"

namespace pgjobs::cli {

using nlohmann::json;

Result<std::unique_ptr<AdminSession>> OpenAdmin(GlobalOptions& global) {
  PGJOBS_RETURN_IF_ERROR(ResolveConnection(global));
  auto catalog = SqlCatalog::Load(global.schema);
  if (!catalog.ok()) return catalog.status();
  auto s = std::make_unique<AdminSession>(AdminSession{std::move(*catalog), nullptr});
  s->conn = std::make_unique<pg::Connection>(global.dsn, nullptr, "pgjobs admin");
  PGJOBS_RETURN_IF_ERROR(s->conn->EnsureConnected());
  PGJOBS_RETURN_IF_ERROR(migrate::Migrator(*s->conn, s->catalog).CheckCurrent());
  auto now = s->conn->ExecSql("SELECT extract(epoch FROM now())::float8");
  if (!now.ok()) return now.status();
  s->db_now = now->Double(0, 0);
  return s;
}

namespace {

size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string Cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

std::string Ago(const json& iso, double now_unix) {
  if (!iso.is_string()) return "-";
  auto t = ParseTimestamp(iso.get<std::string>());
  if (!t.ok()) return iso.get<std::string>();
  double at = std::chrono::duration<double>(t->time_since_epoch()).count();
  double d = now_unix - at;
  if (std::fabs(d) < 1) return "now";
  return d > 0 ? CompactDuration(d) + " ago" : "in " + CompactDuration(-d);
}

std::string ShortDuration(const json& seconds) {
  if (!seconds.is_number()) return "-";
  return CompactDuration(seconds.get<double>());
}

void PrintJson(const json& j) {
  std::printf("%s\n", j.dump(2, ' ', false, json::error_handler_t::replace).c_str());
}

Result<int64_t> ParseJobId(const std::string& text) {
  bool digits = !text.empty() && text.size() <= 18 &&
                text.find_first_not_of("0123456789") == std::string::npos;
  if (!digits) {
    return Status::InvalidArgument("job id must be a number: \"" + text +
                                   "\" (`pgjobs enqueue` prints it; so does `pgjobs jobs list`)");
  }
  return static_cast<int64_t>(std::stoll(text));
}

Result<double> ParseSeconds(const std::string& option, const std::string& text) {
  if (!text.empty() && text[0] == '-') {
    return Status::InvalidArgument(option + " \"" + text +
                                   "\" is negative; give a positive duration such as 30s, 15m, "
                                   "1h or 7d");
  }
  auto d = ParseDuration(text);
  if (!d.ok()) return d.status().WithContext(option);
  if (d->count() <= 0) {
    return Status::InvalidArgument(option + " \"" + text +
                                   "\" is zero; give a positive duration such as 30s, 1h or 7d");
  }
  return static_cast<double>(d->count()) / 1000.0;
}

std::string WhoAmI() {
  // USER, else LOGNAME, else the account of the uid (cron, systemd and
  // containers often set neither); the uid's number only without an entry.
  std::string who;
  for (const char* name : {"USER", "LOGNAME"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      who = v;
      break;
    }
  }
  if (who.empty()) {
    const passwd* pw = getpwuid(getuid());
    who = pw != nullptr && pw->pw_name != nullptr ? pw->pw_name : std::to_string(getuid());
  }
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return who + "@" + host;
}

namespace {

int ExitFor(const std::string& state) {
  if (state == "succeeded") return kExitOk;
  if (state == "cancelled") return kExitJobCancelled;
  return kExitJobFailed;
}

// The last error message of a finished job, for stderr.
std::string LastError(const json& job) {
  const json& errors = job["errors"];
  if (!errors.is_array() || errors.empty()) return "";
  return Cell(errors.back().value("error", json()));
}

}  // namespace

int WaitForJob(AdminSession& s, int64_t id, std::optional<std::chrono::milliseconds> timeout,
               bool as_json) {
  using Clock = std::chrono::steady_clock;
  store::JobAdmin admin(*s.conn, s.catalog);
  auto deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
  for (auto pause = std::chrono::milliseconds(20);; pause = std::min(pause * 2, std::chrono::milliseconds(250))) {
    auto job = admin.Show(id);
    if (!job.ok()) return Fail(job.status());
    std::string state = (*job)["state"].get<std::string>();
    if (store::IsFinishedState(state)) {
      if (as_json) {
        PrintJson(*job);
      } else if (state == "succeeded") {
        // As JSON whatever its type, so that scripts can parse it.
        std::printf("%s\n", (*job)["result"].dump().c_str());
      } else {
        std::fprintf(stderr, "pgjobs: job %lld %s%s\n", static_cast<long long>(id), state.c_str(),
                     LastError(*job).empty() ? "" : (": " + LastError(*job)).c_str());
      }
      return ExitFor(state);
    }
    if (Clock::now() >= deadline) {
      if (as_json) PrintJson(*job);
      std::fprintf(stderr,
                   "pgjobs: job %lld has not finished (it is %s) after the timeout; it goes on "
                   "running: wait again, or `pgjobs jobs cancel %lld`\n",
                   static_cast<long long>(id), state.c_str(), static_cast<long long>(id));
      return kExitWaitTimeout;
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - Clock::now()));
  }
}

}  // namespace pgjobs::cli
