// SPDX-License-Identifier: MIT
// metrics_plot: curves of a run's metrics.jsonl as a standalone SVG file — one panel per metric
// (loss, rewards/margins, rewards/accuracies by default), training values as a line, evaluation
// values (eval_ prefix) as dots. SVG needs no plotting library and opens in any browser.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "prefopt/core/error.hpp"
#include "prefopt/io/atomic_file.hpp"

namespace prefopt {

struct MetricSeries {
  std::string name;
  std::vector<std::pair<double, double>> train, eval;  // (step, value)
};

/// Reads `metrics` (TRL names) from a metrics.jsonl file: the training value of each key and the
/// eval_ value of the same key. Lines that do not parse are a DataError naming the line.
inline std::vector<MetricSeries> read_metric_series(const std::filesystem::path& metrics_jsonl,
                                                    const std::vector<std::string>& metrics) {
  std::ifstream in(metrics_jsonl);
  if (!in) throw DataError(metrics_jsonl.string(), 0, "cannot open the metrics log");
  std::vector<MetricSeries> out;
  for (const auto& m : metrics) out.push_back({m, {}, {}});
  std::string line;
  long number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw DataError(metrics_jsonl.string(), number, std::string("not a JSON line: ") + e.what());
    }
    if (!j.contains("step") || !j["step"].is_number()) continue;
    const double step = j["step"].get<double>();
    for (auto& s : out) {
      if (j.contains(s.name) && j[s.name].is_number()) s.train.emplace_back(step, j[s.name].get<double>());
      const std::string e = "eval_" + s.name;
      if (j.contains(e) && j[e].is_number()) s.eval.emplace_back(step, j[e].get<double>());
    }
  }
  return out;
}

namespace detail {
inline std::string svg_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}
inline std::string svg_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}
}  // namespace detail

/// The SVG text of a figure with one panel per series, side by side.
inline std::string metrics_svg(const std::vector<MetricSeries>& series, const std::string& title) {
  const double pw = 320, ph = 230, margin_l = 56, margin_r = 14, margin_t = 46, margin_b = 40;
  const double width = static_cast<double>(series.size()) * pw, height = ph + margin_t;
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << width / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\">" << detail::svg_escape(title)
      << "</text>\n";
  for (std::size_t k = 0; k < series.size(); ++k) {
    const MetricSeries& s = series[k];
    const double x0 = static_cast<double>(k) * pw + margin_l, x1 = static_cast<double>(k + 1) * pw - margin_r;
    const double y0 = margin_t + 10, y1 = height - margin_b;
    double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
    for (const auto* pts : {&s.train, &s.eval})
      for (const auto& [x, y] : *pts) {
        if (!std::isfinite(y)) continue;
        xmin = std::min(xmin, x), xmax = std::max(xmax, x), ymin = std::min(ymin, y), ymax = std::max(ymax, y);
      }
    svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << margin_t << "\" text-anchor=\"middle\" font-size=\"12\">"
        << detail::svg_escape(s.name) << "</text>\n";
    svg << "<rect x=\"" << x0 << "\" y=\"" << y0 << "\" width=\"" << x1 - x0 << "\" height=\"" << y1 - y0
        << "\" fill=\"none\" stroke=\"#888\"/>\n";
    if (!(xmin <= xmax)) {
      svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << (y0 + y1) / 2 << "\" text-anchor=\"middle\">no data</text>\n";
      continue;
    }
    if (xmax == xmin) xmax = xmin + 1;
    if (ymax - ymin < 1e-12) ymin -= 0.5, ymax += 0.5;
    const double pad = 0.05 * (ymax - ymin);
    ymin -= pad, ymax += pad;
    auto X = [&](double x) { return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0); };
    auto Y = [&](double y) { return y1 - (y - ymin) / (ymax - ymin) * (y1 - y0); };
    for (int t = 0; t <= 4; ++t) {  // y ticks and grid
      const double v = ymin + (ymax - ymin) * t / 4.0;
      svg << "<line x1=\"" << x0 << "\" x2=\"" << x1 << "\" y1=\"" << Y(v) << "\" y2=\"" << Y(v)
          << "\" stroke=\"#eee\"/><text x=\"" << x0 - 4 << "\" y=\"" << Y(v) + 4 << "\" text-anchor=\"end\">"
          << detail::svg_number(v) << "</text>\n";
    }
    for (int t = 0; t <= 4; ++t) {  // x ticks
      const double v = xmin + (xmax - xmin) * t / 4.0;
      svg << "<text x=\"" << X(v) << "\" y=\"" << y1 + 14 << "\" text-anchor=\"middle\">" << detail::svg_number(std::round(v))
          << "</text>\n";
    }
    svg << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << y1 + 30 << "\" text-anchor=\"middle\">step</text>\n";
    if (!s.train.empty()) {
      svg << "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.6\" points=\"";
      for (const auto& [x, y] : s.train)
        if (std::isfinite(y)) svg << X(x) << "," << Y(y) << " ";
      svg << "\"/>\n";
    }
    for (const auto& [x, y] : s.eval)
      if (std::isfinite(y))
        svg << "<circle cx=\"" << X(x) << "\" cy=\"" << Y(y) << "\" r=\"3.5\" fill=\"#d62728\"/>\n";
  }
  svg << "<text x=\"" << width - 8 << "\" y=\"" << height - 6 << "\" text-anchor=\"end\" fill=\"#555\">"
      << "line: training (mean over each logging window); dots: evaluation</text>\n</svg>\n";
  return svg.str();
}

/// Plots `metrics` of a metrics.jsonl into an SVG file (written atomically).
inline void plot_metrics(const std::filesystem::path& metrics_jsonl, const std::filesystem::path& svg_path,
                         const std::string& title,
                         const std::vector<std::string>& metrics = {"loss", "rewards/margins", "rewards/accuracies"}) {
  write_file_atomically(svg_path, metrics_svg(read_metric_series(metrics_jsonl, metrics), title));
}

}  // namespace prefopt
