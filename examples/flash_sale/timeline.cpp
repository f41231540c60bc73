// Timeline: parsing the shop's lines and drawing the HTML report.
#include "timeline.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace flash_sale {

void Timeline::feed(const std::string& line) {
  if (line.size() < 2) return;
  const double t = now();
  std::istringstream in(line.substr(2));
  std::lock_guard<std::mutex> l(mu);
  switch (line[0]) {
    case 'a': {  // a ORDER US
      std::size_t i;
      float us;
      if (!(in >> i >> us) || i >= accepted.size()) return;
      if (!accepted[i]) ++accepted_count;
      accepted[i] = 1;
      accept_us.emplace_back(static_cast<float>(t), us);
      break;
    }
    case 's': {  // s US (placed -> shipped)
      double us;
      if (in >> us) e2e_ms.emplace_back(static_cast<float>(t), static_cast<float>(us / 1000.0));
      break;
    }
    case 'o':
      out_of_order.push_back(line.substr(2));
      break;
    case 'm': {  // m LAG,LAG,... RETRIES DEAD RSS_KB
      Sample s;
      s.t = t;
      std::string lags;
      in >> lags >> last_retries_ >> last_dead_ >> s.rss_anon_kb;
      std::istringstream ls(lags);
      std::uint64_t total = 0;
      for (std::string x; std::getline(ls, x, ',');) {
        s.lag.push_back(std::stoull(x));
        total += s.lag.back();
      }
      s.retries = retries_base_ + last_retries_;
      s.dead_letters = dead_base_ + last_dead_;
      peak_rss_anon_kb = std::max(peak_rss_anon_kb, s.rss_anon_kb);
      peak_lag = std::max(peak_lag, total);
      samples.push_back(std::move(s));
      break;
    }
    default:
      break;
  }
}

void Timeline::crashed() {
  std::lock_guard<std::mutex> l(mu);
  crash_t = now();
  accepted_before_crash = accepted_count;
  retries_base_ += last_retries_;
  dead_base_ += last_dead_;
  last_retries_ = last_dead_ = 0;
}

double percentile(std::vector<float>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

namespace {

struct Series {
  std::string name, color;
  std::vector<std::pair<double, double>> points;
};

const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                         "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"};

// One chart: x = seconds since the sale started, dashed lines at the crash
// and the restart; log_y for latencies.
std::string chart(const std::string& title, const std::string& y_label, const std::vector<Series>& series,
                  double x_max, const Timeline& tl, bool log_y) {
  const double W = 900, H = 260, L = 70, R = 150, T = 30, B = 40;
  double y_min = log_y ? 1e300 : 0, y_max = 0;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      y_max = std::max(y_max, y);
      if (log_y && y > 0) y_min = std::min(y_min, y);
    }
  if (y_max <= 0) y_max = 1;
  if (log_y) {
    if (y_min > y_max) y_min = y_max / 10;
    y_min = std::pow(10, std::floor(std::log10(y_min)));
    y_max = std::pow(10, std::ceil(std::log10(y_max)));
  }
  x_max = std::max(x_max, 1.0);
  auto X = [&](double x) { return L + (W - L - R) * x / x_max; };
  auto Y = [&](double y) {
    const double f = log_y ? (std::log10(std::max(y, y_min)) - std::log10(y_min)) / (std::log10(y_max) - std::log10(y_min))
                           : y / y_max;
    return H - B - (H - T - B) * f;
  };
  std::ostringstream o;
  char buf[256];
  o << "<h2>" << title << "</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  o << "<rect x=\"" << L << "\" y=\"" << T << "\" width=\"" << W - L - R << "\" height=\"" << H - T - B
    << "\" fill=\"none\" stroke=\"#999\"/>\n";
  for (int i = 0; i <= 4; ++i) {  // y ticks
    const double y = log_y ? std::pow(10, std::log10(y_min) + (std::log10(y_max) - std::log10(y_min)) * i / 4)
                           : y_max * i / 4;
    std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.4g</text>\n", L - 5, Y(y) + 4, y);
    o << buf;
  }
  for (int i = 0; i <= 5; ++i) {  // x ticks
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.0f s</text>\n",
                  X(x_max * i / 5), H - B + 15, x_max * i / 5);
    o << buf;
  }
  o << "<text x=\"15\" y=\"" << (T + H - B) / 2 << "\" transform=\"rotate(-90 15 " << (T + H - B) / 2
    << ")\" text-anchor=\"middle\">" << y_label << "</text>\n";
  for (const auto& [t, what, color] : {std::tuple{tl.crash_t, "crash (SIGKILL)", "#d00"},
                                       std::tuple{tl.restart_t, "restart", "#080"},
                                       std::tuple{tl.sale_end_t, "last checkout", "#555"}}) {
    if (t < 0) continue;
    const bool right_edge = X(t) > W - R - 90;  // label to the left of the line, clear of the legend
    std::snprintf(buf, sizeof buf,
                  "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%s\" stroke-dasharray=\"4 3\"/>"
                  "<text x=\"%.1f\" y=\"%.0f\" fill=\"%s\" text-anchor=\"%s\">%s</text>\n",
                  X(t), X(t), T, H - B, color, right_edge ? X(t) - 3 : X(t) + 3,
                  T + 12 + (what[0] == 'r' ? 12 : what[0] == 'l' ? 24 : 0), color, right_edge ? "end" : "start", what);
    o << buf;
  }
  int row = 0;
  for (const auto& s : series) {
    o << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"1.2\" points=\"";
    for (const auto& [x, y] : s.points) {
      std::snprintf(buf, sizeof buf, "%.1f,%.1f ", X(x), Y(y));
      o << buf;
    }
    o << "\"/>\n";
    std::snprintf(buf, sizeof buf, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">%s</text>\n", W - R + 8,
                  T + 10 + 12 * row++, s.color.c_str(), s.name.c_str());
    o << buf;
  }
  o << "</svg>\n";
  return o.str();
}

// p50 and p99 of (t, value) points in ~120 time buckets.
std::vector<Series> percentiles_over_time(const std::vector<std::pair<float, float>>& pts, double x_max,
                                          const std::string& what) {
  const int kBuckets = 120;
  std::vector<std::vector<float>> b(kBuckets);
  for (const auto& [t, v] : pts)
    b[std::min<std::size_t>(kBuckets - 1, static_cast<std::size_t>(t / std::max(x_max, 1e-9) * kBuckets))].push_back(v);
  Series p50{what + " p50", "#1f77b4", {}}, p99{what + " p99", "#d62728", {}};
  for (int i = 0; i < kBuckets; ++i) {
    if (b[static_cast<std::size_t>(i)].empty()) continue;
    const double t = (i + 0.5) * x_max / kBuckets;
    p50.points.emplace_back(t, percentile(b[static_cast<std::size_t>(i)], 0.5));
    p99.points.emplace_back(t, percentile(b[static_cast<std::size_t>(i)], 0.99));
  }
  return {p50, p99};
}

}  // namespace

bool write_html(const std::string& path, Timeline& tl, const std::vector<std::string>& summary,
                const std::vector<StageCount>& stages, bool pass) {
  std::lock_guard<std::mutex> l(tl.mu);
  double x_max = tl.drained_t > 0 ? tl.drained_t : tl.now();
  if (!tl.samples.empty()) x_max = std::max(x_max, tl.samples.back().t);
  std::vector<Series> lag;
  const std::size_t parts = tl.samples.empty() ? 0 : tl.samples.back().lag.size();
  for (std::size_t p = 0; p < parts; ++p) {
    Series s{"partition " + std::to_string(p), kColors[p % std::size(kColors)], {}};
    for (const auto& smp : tl.samples)
      if (p < smp.lag.size()) s.points.emplace_back(smp.t, static_cast<double>(smp.lag[p]));
    lag.push_back(std::move(s));
  }
  Series retries{"retries", "#ff7f0e", {}}, dead{"dead letters", "#d62728", {}}, rss{"RssAnon MiB", "#2ca02c", {}};
  for (const auto& smp : tl.samples) {
    retries.points.emplace_back(smp.t, static_cast<double>(smp.retries));
    dead.points.emplace_back(smp.t, static_cast<double>(smp.dead_letters));
    rss.points.emplace_back(smp.t, static_cast<double>(smp.rss_anon_kb) / 1024.0);
  }
  std::ofstream f(path);
  if (!f) return false;
  f << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>weir flash sale</title>"
       "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto}pre{background:#f4f4f4;padding:1em}"
       ".pass{color:#080}.fail{color:#c00}</style></head><body>\n<h1>weir flash sale: <span class=\""
    << (pass ? "pass\">PASS" : "fail\">FAIL") << "</span></h1>\n<pre>";
  for (const auto& s : summary) {
    for (char c : s) f << (c == '<' ? std::string("&lt;") : c == '>' ? std::string("&gt;") : c == '&' ? std::string("&amp;") : std::string(1, c));
    f << "\n";
  }
  f << "</pre>\n";
  f << "<h2>Pipeline stages (counted by derived id)</h2>\n<table border=\"1\" cellpadding=\"4\" "
       "style=\"border-collapse:collapse\">\n<tr><th>stage</th><th>topic</th><th>id</th><th>events</th>"
       "<th>orders once</th><th>orders more than once</th><th>missing</th><th>unexpected</th></tr>\n";
  for (const auto& st : stages)
    f << "<tr><td>" << st.stage << "</td><td>" << st.topic << "</td><td>" << st.id_form << "</td><td>" << st.events
      << "</td><td>" << st.once << "</td><td>" << st.repeated << "</td><td>" << st.missing << "</td><td>"
      << st.unexpected << "</td></tr>\n";
  f << "</table>\n";
  f << chart("Lag per partition (orders, payments and shipments, summed over the groups)", "events", lag, x_max, tl,
             false);
  f << chart("Accept latency (publish, acknowledged once journaled)", "us",
             percentiles_over_time(tl.accept_us, x_max, "accept"), x_max, tl, true);
  f << chart("End to end (placed -> shipped)", "ms", percentiles_over_time(tl.e2e_ms, x_max, "placed->shipped"),
             x_max, tl, true);
  f << chart("Payment retries and dead letters (cumulative)", "count", {retries, dead}, x_max, tl, false);
  f << chart("Anonymous memory (RssAnon)", "MiB", {rss}, x_max, tl, false);
  f << "</body></html>\n";
  return static_cast<bool>(f);
}

}  // namespace flash_sale
