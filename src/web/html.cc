#include "web/html.h"

#include <cmath>
#include <cstdio>

#include "common/text.h"

namespace pgjobs::web {

using nlohmann::json;

std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 16);
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return Escape(value.get<std::string>());
  return Escape(value.dump(-1, ' ', false, json::error_handler_t::replace));
}

std::string Pre(const json& value) {
  if (value.is_null()) return "<pre>-</pre>";
  return "<pre>" + Escape(value.dump(2, ' ', false, json::error_handler_t::replace)) + "</pre>";
}

std::string UrlEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string Link(const std::string& href, const std::string& text) {
  return "<a href=\"" + Escape(href) + "\">" + Escape(text) + "</a>";
}

namespace {

}  // namespace

double ParseIso(const std::string& iso) {
  auto t = ParseTimestamp(iso);
  if (!t.ok()) return 0;
  return std::chrono::duration<double>(t->time_since_epoch()).count();
}

std::string Ago(const json& iso, double now_unix) {
  if (!iso.is_string()) return "-";
  const std::string text = iso.get<std::string>();
  double at = ParseIso(text);
  if (at == 0) return Escape(text);
  double d = now_unix - at;
  std::string rel = std::fabs(d) < 1 ? "now" : d > 0 ? CompactDuration(d) + " ago" : "in " + CompactDuration(-d);
  return "<time datetime=\"" + Escape(text) + "\" title=\"" + Escape(text) + "\">" + rel +
         "</time>";
}

std::string Duration(const json& seconds) {
  if (!seconds.is_number()) return "-";
  return CompactDuration(seconds.get<double>());
}

std::string Percent(const json& fraction) {
  if (!fraction.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f%%", fraction.get<double>() * 100);
  return buf;
}

Table::Table(std::vector<std::string> headers, std::string css_class)
    : headers_(std::move(headers)), css_class_(std::move(css_class)) {}

void Table::Row(std::vector<std::string> cells, const std::string& row_class) {
  std::string tr = row_class.empty() ? "<tr>" : "<tr class=\"" + Escape(row_class) + "\">";
  for (const std::string& c : cells) tr += "<td>" + c + "</td>";
  rows_.push_back(tr + "</tr>");
}

std::string Table::Render(const std::string& empty_note) const {
  if (rows_.empty()) return "<p class=\"empty\">" + Escape(empty_note) + "</p>";
  std::string out = "<table class=\"" + Escape(css_class_) + "\"><thead><tr>";
  for (const std::string& h : headers_) out += "<th>" + Escape(h) + "</th>";
  out += "</tr></thead><tbody>";
  for (const std::string& r : rows_) out += r;
  return out + "</tbody></table>";
}

std::string ActionButton(const std::string& action_url, const std::string& label,
                         const std::string& confirm_text) {
  return "<button type=\"button\" class=\"action\" data-action=\"" + Escape(action_url) +
         "\" data-confirm=\"" + Escape(confirm_text) + "\">" + Escape(label) + "</button>";
}

}  // namespace pgjobs::web
