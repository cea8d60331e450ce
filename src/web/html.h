// The one place where the dashboard turns values into HTML. Every value a
// page shows goes through Escape (or Text, which calls it): job args, task
// names and schedule descriptions are user data, and `<script>` in them must
// render as text. Pages never concatenate a value into markup by hand.
#ifndef PGJOBS_WEB_HTML_H_
#define PGJOBS_WEB_HTML_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace pgjobs::web {

// &, <, >, " and ' as entities: safe in element text and quoted attributes.
std::string Escape(std::string_view text);
// A JSON value as escaped text: strings as they are, null as "-", the rest
// as compact JSON.
std::string Text(const nlohmann::json& value);
// A JSON value pretty-printed and escaped, inside <pre>.
std::string Pre(const nlohmann::json& value);
// Percent-encodes text for a URL path segment or query value.
std::string UrlEncode(std::string_view text);
// <a href="href">text</a>, both escaped.
std::string Link(const std::string& href, const std::string& text);
// An ISO 8601 time as "<time title=ISO>3m ago</time>" against now (Unix
// seconds); "-" for null.
std::string Ago(const nlohmann::json& iso, double now_unix);
// Seconds as "850ms", "12s", "4m", "3h", "2d"; "-" for null.
std::string Duration(const nlohmann::json& seconds);
// A fraction as "12.5%", as `pgjobs stats` prints it; "-" for null.
std::string Percent(const nlohmann::json& fraction);

// A table whose cells are already HTML (built with the helpers above).
class Table {
 public:
  explicit Table(std::vector<std::string> headers, std::string css_class = "");
  void Row(std::vector<std::string> cells, const std::string& row_class = "");
  // The table, or <p class="empty">empty_note</p> when it has no rows.
  std::string Render(const std::string& empty_note) const;

 private:
  std::vector<std::string> headers_;
  std::string css_class_;
  std::vector<std::string> rows_;
};

// A POST button that asks for confirmation (confirm_text) and sends the
// page's CSRF token: the dashboard's script wires every button with
// data-action.
std::string ActionButton(const std::string& action_url, const std::string& label,
                         const std::string& confirm_text);

// Unix seconds from an ISO 8601 time as PostgreSQL's JSON prints it; 0 if
// it cannot be read.
double ParseIso(const std::string& iso);

}  // namespace pgjobs::web

#endif  // PGJOBS_WEB_HTML_H_
