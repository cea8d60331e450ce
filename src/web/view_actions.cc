// Who did what, and when: the audit log (store/audit.h) as the "/actions"
// page, and the actions on one job or schedule on its own page.
#include "common/text.h"
#include "store/audit.h"
#include "web/html.h"
#include "web/views.h"

namespace pgjobs::web {

using nlohmann::json;

namespace {

constexpr int kPageSize = 50;

std::string TargetLink(const json& a) {
  std::string action = Text(a["action"]);
  std::string target = a["target"].is_string() ? a["target"].get<std::string>() : "";
  std::string kind = action.substr(0, action.find('.'));
  if (target == "*") return Text(a["target"]);
  if (kind == "job") return Link("/jobs/" + UrlEncode(target), "job " + target);
  if (kind == "schedule") return Link("/schedules/" + UrlEncode(target), target);
  if (kind == "queue") return Link("/jobs?queue=" + UrlEncode(target), "queue " + target);
  return Text(a["target"]);
}

std::string ActionsForm(const ViewContext& ctx) {
  std::string out = "<form class=\"filters\" method=\"get\" action=\"/actions\">";
  for (const char* name : {"target", "kind", "actor", "since"}) {
    out += "<label>" + std::string(name) + " <input name=\"" + name + "\" value=\"" +
           Escape(Param(ctx, name)) + "\" size=\"12\"></label> ";
  }
  return out + "<button type=\"submit\">filter</button></form>";
}

}  // namespace

std::string ActionsTable(const json& actions, const ViewContext& ctx, bool with_target) {
  std::vector<std::string> headers{"when", "who", "action"};
  if (with_target) headers.push_back("on");
  headers.push_back("details");
  Table t(std::move(headers), "actions");
  for (const json& a : actions) {
    std::vector<std::string> row{Ago(a["at"], ctx.now), Text(a["actor"]), Text(a["action"])};
    if (with_target) row.push_back(TargetLink(a));
    row.push_back(a["details"].is_object() && !a["details"].empty() ? Text(a["details"]) : "");
    t.Row(std::move(row));
  }
  return t.Render("No actions recorded.");
}

Result<json> ActionsOn(ViewContext& ctx, const std::string& kind, const std::string& target) {
  store::AuditFilter f;
  f.kind = kind;
  f.target = target;
  f.limit = 20;
  return store::ListAudit(ctx.conn, ctx.catalog, f);
}

Result<json> ActionsData(ViewContext& ctx) {
  store::AuditFilter f;
  auto opt = [&](const char* name) -> std::optional<std::string> {
    std::string v = Param(ctx, name);
    return v.empty() ? std::nullopt : std::optional<std::string>(v);
  };
  f.target = opt("target");
  f.kind = opt("kind");
  f.actor = opt("actor");
  if (auto since = opt("since")) {
    auto d = ParseDuration(*since);
    if (!d.ok()) return Status::InvalidArgument("since: " + d.status().message());
    f.since_seconds = d->count() / 1000.0;
  }
  if (auto before = opt("before")) {
    if (before->size() > 18 || before->find_first_not_of("0123456789") != std::string::npos) {
      return Status::InvalidArgument("before must be an action id (digits), not \"" + *before + "\"");
    }
    f.before_id = std::stoll(*before);
  }
  f.limit = kPageSize;
  if (auto limit = opt("limit")) {
    if (limit->size() > 4 || limit->find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(*limit) < 1 || std::stoi(*limit) > 1000) {
      return Status::InvalidArgument("limit must be a number from 1 to 1000, not \"" + *limit + "\"");
    }
    f.limit = std::stoi(*limit);
  }
  return store::ListAudit(ctx.conn, ctx.catalog, f);
}

Page ActionsPage(const json& actions, const ViewContext& ctx) {
  std::string content = ActionsTable(actions, ctx, true);
  if (actions.size() >= static_cast<size_t>(kPageSize)) {
    std::string keep;
    for (const auto& [k, v] : ctx.query) {
      if (k != "before" && k != "partial") keep += "&" + UrlEncode(k) + "=" + UrlEncode(v);
    }
    content += "<p class=\"pager\">" +
               Link("/actions?before=" + Text(actions.back()["id"]) + keep, "older") + "</p>";
  }
  return {"Actions", ActionsForm(ctx), content};
}

}  // namespace pgjobs::web
