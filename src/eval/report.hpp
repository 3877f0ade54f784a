// Report writers for suite results: a Markdown table and a self-contained HTML page (inline
// CSS, SVG charts drawn here: per-language bars sorted by score, a languages x tasks heat
// map, a transfer-gap chart). No external scripts, styles or fonts.
#pragma once

#include <string>

#include "eval/results.hpp"

namespace xling::eval {

std::string render_markdown(const SuiteResult& r);
std::string render_html(const SuiteResult& r);

// SVG building blocks (exposed for tests): a horizontal bar chart of (label, value) sorted
// by value, values in [lo, hi].
std::string svg_bar_chart(const std::string& title, std::vector<std::pair<std::string, double>> bars, double lo,
                          double hi);
std::string html_escape(const std::string& s);

}  // namespace xling::eval
