// Markdown and HTML reports (see report.hpp).
#include "eval/report.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

namespace xling::eval {

nlohmann::json SuiteResult::to_json() const {
  nlohmann::json tasks_json = nlohmann::json::array();
  for (const auto& t : tasks) {
    nlohmann::json metrics_json = nlohmann::json::array();
    for (const auto& m : t.metrics) {
      nlohmann::json langs = nlohmann::json::object();
      for (const auto& l : m.per_language) langs[l.language] = {{"value", l.value}, {"items", l.items}};
      nlohmann::json mj = {{"metric", m.metric}, {"per_language", langs}, {"mean", m.mean},
                           {"macro_mean", m.macro_mean}, {"worst", m.worst}};
      if (!m.signature.empty()) mj["signature"] = m.signature;
      if (m.transfer_gap) mj["transfer_gap"] = *m.transfer_gap;
      metrics_json.push_back(mj);
    }
    nlohmann::json tj = {{"name", t.name}, {"type", t.type}, {"metrics", metrics_json}};
    if (!t.source_language.empty()) tj["source_language"] = t.source_language;
    if (t.consistency) tj["consistency"] = *t.consistency;
    tasks_json.push_back(tj);
  }
  return {{"suite", suite},
          {"model", model},
          {"model_config_hash", model_hash},
          {"predictions", predictions},
          {"xling_version", xling_version},
          {"date", date},
          {"wall_seconds", wall_seconds},
          {"tasks", tasks_json}};
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

// Approximate rendered width in characters (code points; wide CJK counted twice).
std::size_t display_width(const std::string& s) {
  std::size_t w = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c & 0xC0) == 0x80) continue;
    w += c >= 0xE3 && c < 0xF0 ? 2 : 1;
  }
  return w;
}

std::string fmt_value(double v) {
  if (std::isnan(v)) return "n/a";
  return fmt::format("{:.2f}", v);
}

// Metric values in [0, 1] are shown on a 0..100 scale.
bool unit_scale(const MetricResult& m) {
  for (const auto& l : m.per_language) {
    if (l.value > 1.0 + 1e-9 || l.value < -1.0 - 1e-9) return false;
  }
  return true;
}

double shown(const MetricResult& m, double v) { return unit_scale(m) ? v * 100.0 : v; }

// Colour for a value in [0, 1]: red -> amber -> green, readable with dark text.
std::string heat_colour(double t) {
  t = std::clamp(t, 0.0, 1.0);
  int r, g, b;
  if (t < 0.5) {
    double u = t / 0.5;
    r = 230;
    g = static_cast<int>(110 + u * (200 - 110));
    b = static_cast<int>(100 + u * (90 - 100));
  } else {
    double u = (t - 0.5) / 0.5;
    r = static_cast<int>(230 - u * (230 - 110));
    g = static_cast<int>(200 - u * (200 - 190));
    b = static_cast<int>(90 + u * (120 - 90));
  }
  return fmt::format("rgb({},{},{})", r, g, b);
}

}  // namespace

std::string svg_bar_chart(const std::string& title, std::vector<std::pair<std::string, double>> bars, double lo, double hi) {
  std::stable_sort(bars.begin(), bars.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::size_t longest = 0;
  for (const auto& b : bars) longest = std::max(longest, display_width(b.first));
  const int row = 22, chart_w = 420, top = 30;
  const int label_w = std::clamp(static_cast<int>(longest) * 7 + 14, 60, 280);
  int height = top + static_cast<int>(bars.size()) * row + 30;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"{}\">"
      "<text x=\"0\" y=\"18\" class=\"t\">{}</text>",
      label_w + chart_w + 70, height, html_escape(title), html_escape(title));
  double span = hi > lo ? hi - lo : 1.0;
  double zero_x = label_w + (std::clamp(0.0, lo, hi) - lo) / span * chart_w;
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const auto& [label, v] = bars[i];
    int y = top + static_cast<int>(i) * row;
    double x = label_w + (std::clamp(v, lo, hi) - lo) / span * chart_w;
    double x0 = std::min(x, zero_x), w = std::max(1.0, std::fabs(x - zero_x));
    double t = (std::clamp(v, lo, hi) - lo) / span;
    svg += fmt::format(
        "<text x=\"{}\" y=\"{}\" class=\"l\" text-anchor=\"end\">{}</text>"
        "<rect x=\"{:.1f}\" y=\"{}\" width=\"{:.1f}\" height=\"{}\" fill=\"{}\"><title>{}: {}</title></rect>"
        "<text x=\"{:.1f}\" y=\"{}\" class=\"v\">{}</text>",
        label_w - 6, y + 15, html_escape(label), x0, y + 3, w, row - 6, heat_colour(t), html_escape(label), fmt_value(v),
        std::max(x, zero_x) + 4, y + 15, fmt_value(v));
  }
  int axis_y = top + static_cast<int>(bars.size()) * row + 4;
  svg += fmt::format("<line x1=\"{:.1f}\" y1=\"{}\" x2=\"{:.1f}\" y2=\"{}\" class=\"a\"/>", zero_x, top, zero_x, axis_y);
  for (int k = 0; k <= 4; ++k) {
    double v = lo + span * k / 4.0;
    double x = label_w + chart_w * k / 4.0;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" class=\"s\" text-anchor=\"middle\">{}</text>", x, axis_y + 16,
                       fmt_value(v));
  }
  svg += "</svg>";
  return svg;
}

namespace {

std::string svg_heat_map(const SuiteResult& r) {
  std::vector<std::string> langs;
  std::set<std::string> seen;
  for (const auto& t : r.tasks) {
    if (t.metrics.empty()) continue;
    for (const auto& l : t.metrics[0].per_language) {
      if (seen.insert(l.language).second) langs.push_back(l.language);
    }
  }
  std::size_t longest_task = 0, longest_lang = 0;
  for (const auto& t : r.tasks) longest_task = std::max(longest_task, display_width(t.name));
  for (const auto& l : langs) longest_lang = std::max(longest_lang, display_width(l));
  const int cell_w = std::clamp(static_cast<int>(longest_task) * 7 + 16, 90, 240), cell_h = 24;
  const int left = std::clamp(static_cast<int>(longest_lang) * 7 + 16, 50, 200), top = 46;
  int width = left + cell_w * static_cast<int>(r.tasks.size()) + 10;
  int height = top + cell_h * static_cast<int>(langs.size()) + 10;
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" role=\"img\" aria-label=\"languages by tasks\">",
      width, height);
  for (std::size_t j = 0; j < r.tasks.size(); ++j) {
    int cx = left + cell_w * static_cast<int>(j) + cell_w / 2;
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"l\" text-anchor=\"middle\">{}</text>", cx, top - 24,
                       html_escape(r.tasks[j].name));
    if (!r.tasks[j].metrics.empty()) {
      svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"s\" text-anchor=\"middle\">{}</text>", cx, top - 8,
                         html_escape(r.tasks[j].metrics[0].metric));
    }
  }
  for (std::size_t i = 0; i < langs.size(); ++i) {
    int y = top + cell_h * static_cast<int>(i);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"l\" text-anchor=\"end\">{}</text>", left - 6, y + 16,
                       html_escape(langs[i]));
    for (std::size_t j = 0; j < r.tasks.size(); ++j) {
      int x = left + cell_w * static_cast<int>(j);
      const auto& t = r.tasks[j];
      if (t.metrics.empty()) continue;
      const MetricResult& m = t.metrics[0];
      auto it = std::find_if(m.per_language.begin(), m.per_language.end(),
                             [&](const LanguageScore& l) { return l.language == langs[i]; });
      if (it == m.per_language.end()) {
        svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"na\"/>", x + 1, y + 1, cell_w - 2,
                           cell_h - 2);
        continue;
      }
      double lo = 1e300, hi = -1e300;
      for (const auto& l : m.per_language) {
        lo = std::min(lo, l.value);
        hi = std::max(hi, l.value);
      }
      double t01 = hi > lo ? (it->value - lo) / (hi - lo) : 0.5;
      svg += fmt::format(
          "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{} / {}: {}</title></rect>"
          "<text x=\"{}\" y=\"{}\" class=\"c\" text-anchor=\"middle\">{}</text>",
          x + 1, y + 1, cell_w - 2, cell_h - 2, heat_colour(t01), html_escape(t.name), html_escape(langs[i]),
          fmt_value(shown(m, it->value)), x + cell_w / 2, y + 16, fmt_value(shown(m, it->value)));
    }
  }
  svg += "</svg>";
  return svg;
}

}  // namespace

std::string render_markdown(const SuiteResult& r) {
  std::string md = fmt::format("# {}\n\nmodel: `{}`  \npredictions: `{}`  \nxling {} · {} · {:.1f} s\n", r.suite,
                               r.model.empty() ? "-" : r.model, r.predictions.empty() ? "-" : r.predictions,
                               r.xling_version, r.date, r.wall_seconds);
  for (const auto& t : r.tasks) {
    md += fmt::format("\n## {} ({})\n\n", t.name, t.type);
    if (t.metrics.empty()) continue;
    md += "| language |";
    for (const auto& m : t.metrics) md += " " + m.metric + " |";
    md += "\n|---|";
    for (std::size_t k = 0; k < t.metrics.size(); ++k) md += "---:|";
    md += "\n";
    for (std::size_t i = 0; i < t.metrics[0].per_language.size(); ++i) {
      md += "| " + t.metrics[0].per_language[i].language + " |";
      for (const auto& m : t.metrics) md += " " + fmt_value(shown(m, m.per_language[i].value)) + " |";
      md += "\n";
    }
    md += "| **mean** |";
    for (const auto& m : t.metrics) md += " **" + fmt_value(shown(m, m.mean)) + "** |";
    md += "\n| macro mean |";
    for (const auto& m : t.metrics) md += " " + fmt_value(shown(m, m.macro_mean)) + " |";
    md += "\n";
    const MetricResult& p = t.metrics[0];
    if (!p.worst.empty()) {
      std::string w;
      for (const auto& l : p.worst) w += (w.empty() ? "" : ", ") + l;
      md += fmt::format("\nworst languages ({}): {}\n", p.metric, w);
    }
    if (p.transfer_gap) md += fmt::format("\ntransfer gap ({} minus the others, {}): {}\n", t.source_language, p.metric,
                                          fmt_value(shown(p, *p.transfer_gap)));
    if (t.consistency) md += fmt::format("\ncross-lingual consistency: {:.1f}%\n", *t.consistency * 100);
    for (const auto& m : t.metrics) {
      if (!m.signature.empty()) md += fmt::format("\n`{}` signature: `{}`\n", m.metric, m.signature);
    }
  }
  return md;
}

std::string render_html(const SuiteResult& r) {
  std::string body;
  body += fmt::format("<h1>{}</h1><p class=\"meta\">model <code>{}</code> · predictions <code>{}</code> · xling {} · {} · "
                      "{:.1f} s</p>",
                      html_escape(r.suite), html_escape(r.model.empty() ? "-" : r.model),
                      html_escape(r.predictions.empty() ? "-" : r.predictions), html_escape(r.xling_version),
                      html_escape(r.date), r.wall_seconds);
  // Overview: heat map and transfer gaps.
  body += "<section><h2>Languages × tasks</h2><p>Primary metric per task; colours are scaled per task "
          "(green = the task's best language, red = its worst).</p>" +
          svg_heat_map(r) + "</section>";
  std::vector<std::pair<std::string, double>> gaps;
  for (const auto& t : r.tasks) {
    if (!t.metrics.empty() && t.metrics[0].transfer_gap) {
      gaps.emplace_back(t.name + " (" + t.source_language + ")", shown(t.metrics[0], *t.metrics[0].transfer_gap));
    }
  }
  if (!gaps.empty()) {
    double lo = 0, hi = 0;
    for (const auto& g : gaps) {
      lo = std::min(lo, g.second);
      hi = std::max(hi, g.second);
    }
    body += "<section><h2>Transfer gap</h2><p>Source-language score minus the mean of the other languages "
            "(smaller is better transfer).</p>" +
            svg_bar_chart("transfer gap", gaps, lo, hi > lo ? hi : lo + 1) + "</section>";
  }
  for (const auto& t : r.tasks) {
    body += fmt::format("<section><h2>{} <small>{}</small></h2>", html_escape(t.name), html_escape(t.type));
    if (t.metrics.empty()) {
      body += "</section>";
      continue;
    }
    const MetricResult& p = t.metrics[0];
    std::vector<std::pair<std::string, double>> bars;
    double lo = 0, hi = 0;
    for (const auto& l : p.per_language) {
      double v = shown(p, l.value);
      bars.emplace_back(l.language, v);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    bool percent_metric = p.metric == "bleu" || p.metric == "chrf" || p.metric == "chrf++" || p.metric == "ter";
    if ((unit_scale(p) || percent_metric) && lo >= 0 && hi <= 100) hi = 100;
    body += svg_bar_chart(p.metric + " by language", bars, lo, hi > lo ? hi : lo + 1);
    body += "<table><tr><th>language</th>";
    for (const auto& m : t.metrics) body += "<th>" + html_escape(m.metric) + "</th>";
    body += "<th>items</th></tr>";
    for (std::size_t i = 0; i < p.per_language.size(); ++i) {
      body += "<tr><td>" + html_escape(p.per_language[i].language) + "</td>";
      for (const auto& m : t.metrics) body += "<td>" + fmt_value(shown(m, m.per_language[i].value)) + "</td>";
      body += fmt::format("<td>{}</td></tr>", p.per_language[i].items);
    }
    body += "<tr class=\"sum\"><td>mean</td>";
    for (const auto& m : t.metrics) body += "<td>" + fmt_value(shown(m, m.mean)) + "</td>";
    body += "<td></td></tr><tr><td>macro mean</td>";
    for (const auto& m : t.metrics) body += "<td>" + fmt_value(shown(m, m.macro_mean)) + "</td>";
    body += "<td></td></tr></table>";
    std::string notes;
    if (!p.worst.empty()) {
      std::string w;
      for (const auto& l : p.worst) w += (w.empty() ? "" : ", ") + l;
      notes += "<li>worst languages: " + html_escape(w) + "</li>";
    }
    if (p.transfer_gap) notes += fmt::format("<li>transfer gap from <b>{}</b>: {}</li>", html_escape(t.source_language),
                                             fmt_value(shown(p, *p.transfer_gap)));
    if (t.consistency) notes += fmt::format("<li>cross-lingual consistency: {:.1f}%</li>", *t.consistency * 100);
    for (const auto& m : t.metrics) {
      if (!m.signature.empty()) notes += "<li><code>" + html_escape(m.metric) + "</code>: <code>" + html_escape(m.signature) + "</code></li>";
    }
    if (!notes.empty()) body += "<ul>" + notes + "</ul>";
    body += "</section>";
  }
  static const char* kCss =
      "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1000px;color:#1d2430;"
      "padding:0 16px;background:#fbfbfd}h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:0 0 8px}"
      "h2 small{color:#667;font-weight:normal;font-size:13px}.meta{color:#556}section{background:#fff;border:1px solid #e3e6ee;"
      "border-radius:8px;padding:14px 18px;margin:16px 0;overflow-x:auto}table{border-collapse:collapse;margin-top:8px}"
      "td,th{padding:3px 10px;border-bottom:1px solid #eceef3;text-align:right}td:first-child,th:first-child{text-align:left}"
      "tr.sum td{font-weight:600}svg text.t{font-weight:600;font-size:13px}svg text.l,svg text.v,svg text.c{font-size:12px;"
      "fill:#1d2430}svg text.s{font-size:11px;fill:#667}svg line.a{stroke:#99a;stroke-width:1}svg rect.na{fill:#eef0f4}"
      "code{background:#f1f3f7;padding:1px 4px;border-radius:3px;font-size:12px}";
  return fmt::format("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{}</style>"
                     "</head><body>{}</body></html>\n",
                     html_escape(r.suite), kCss, body);
}

}  // namespace xling::eval
