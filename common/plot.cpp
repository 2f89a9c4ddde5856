#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "error.h"
#include "file_io.h"
#include "image.h"

namespace gpt2 {

namespace {

// Matplotlib's default colours: readable on white and distinct from each other.
const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};

// A tick label: "%g" drops trailing zeros and round-off noise (0.30000000000000004 -> 0.3).
std::string tick_label(double v) {
  if (std::fabs(v) < 1e-12) v = 0.0;  // no "-0"
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

std::string base64(const std::vector<uint8_t>& bytes) {
  static const char* const kDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    // Three bytes make four 6-bit digits; a short last group is padded with '='.
    const uint32_t n = (static_cast<uint32_t>(bytes[i]) << 16) |
                       (i + 1 < bytes.size() ? static_cast<uint32_t>(bytes[i + 1]) << 8 : 0u) |
                       (i + 2 < bytes.size() ? static_cast<uint32_t>(bytes[i + 2]) : 0u);
    out += kDigits[(n >> 18) & 63];
    out += kDigits[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kDigits[n & 63] : '=';
  }
  return out;
}

// The whole-number ticks of an index axis 0 .. n-1.
std::vector<int> index_ticks(int n) {
  std::vector<int> ticks;
  for (double t : nice_ticks(0, std::max(n - 1, 1))) {
    if (t >= -1e-9 && t <= n - 1 + 1e-9 && std::fabs(t - std::round(t)) < 1e-9)
      ticks.push_back(static_cast<int>(std::lround(t)));
  }
  return ticks;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  GPT2_CHECK(std::isfinite(lo) && std::isfinite(hi), "nice_ticks: range [", lo, ", ", hi, "] is not finite");
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12 * std::max(1.0, std::fabs(hi))) {  // a flat line: give it some room
    double pad = std::fabs(lo) > 0 ? 0.1 * std::fabs(lo) : 1.0;
    lo -= pad;
    hi += pad;
  }
  target = std::max(target, 2);
  // The step is 1, 2 or 5 times a power of ten, the first such at least range / (target - 1).
  double raw = (hi - lo) / (target - 1);
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude * 10;
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw * (1 - 1e-9)) {
      step = m * magnitude;
      break;
    }
  }
  double first = std::floor(lo / step + 1e-9) * step;
  double last = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  int n = static_cast<int>(std::lround((last - first) / step));
  for (int i = 0; i <= n; ++i) ticks.push_back(first + i * step);
  return ticks;
}

std::string render_svg(const LinePlot& plot) {
  // The data range over every finite point.
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const PlotSeries& s : plot.series) {
    GPT2_CHECK(s.x.size() == s.y.size(), "plot '", plot.title, "': series '", s.name, "' has ", s.x.size(),
               " x values but ", s.y.size(), " y values");
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x_lo = std::min(x_lo, s.x[i]);
      x_hi = std::max(x_hi, s.x[i]);
      y_lo = std::min(y_lo, s.y[i]);
      y_hi = std::max(y_hi, s.y[i]);
    }
  }
  if (!std::isfinite(x_lo)) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;  // no data: empty axes
  std::vector<double> xt = nice_ticks(x_lo, x_hi), yt = nice_ticks(y_lo, y_hi);
  x_lo = xt.front(), x_hi = xt.back(), y_lo = yt.front(), y_hi = yt.back();

  // The plot area inside the margins (room for the title, tick labels and axis labels).
  const double left = 72, right = plot.width - 20.0, top = 40, bottom = plot.height - 52.0;
  auto px = [&](double x) { return left + (x - x_lo) / (x_hi - x_lo) * (right - left); };
  auto py = [&](double y) { return bottom - (y - y_lo) / (y_hi - y_lo) * (bottom - top); };

  std::string svg = cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", plot.width, "\" height=\"",
                        plot.height, "\" viewBox=\"0 0 ", plot.width, " ", plot.height,
                        "\" font-family=\"sans-serif\" font-size=\"12\">\n");
  svg += cat("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
  svg += cat("<text class=\"title\" x=\"", num((left + right) / 2), "\" y=\"24\" text-anchor=\"middle\" ",
             "font-size=\"16\">", xml_escape(plot.title), "</text>\n");

  // Grid lines and ticks with their labels.
  for (double t : xt) {
    svg += cat("<line x1=\"", num(px(t)), "\" y1=\"", num(top), "\" x2=\"", num(px(t)), "\" y2=\"",
               num(bottom), "\" stroke=\"#e5e5e5\"/>\n");
    svg += cat("<text class=\"xtick\" x=\"", num(px(t)), "\" y=\"", num(bottom + 16),
               "\" text-anchor=\"middle\">", tick_label(t), "</text>\n");
  }
  for (double t : yt) {
    svg += cat("<line x1=\"", num(left), "\" y1=\"", num(py(t)), "\" x2=\"", num(right), "\" y2=\"",
               num(py(t)), "\" stroke=\"#e5e5e5\"/>\n");
    svg += cat("<text class=\"ytick\" x=\"", num(left - 6), "\" y=\"", num(py(t) + 4),
               "\" text-anchor=\"end\">", tick_label(t), "</text>\n");
  }
  svg += cat("<rect x=\"", num(left), "\" y=\"", num(top), "\" width=\"", num(right - left), "\" height=\"",
             num(bottom - top), "\" fill=\"none\" stroke=\"black\"/>\n");
  svg += cat("<text class=\"xlabel\" x=\"", num((left + right) / 2), "\" y=\"", num(plot.height - 12.0),
             "\" text-anchor=\"middle\">", xml_escape(plot.x_label), "</text>\n");
  svg += cat("<text class=\"ylabel\" transform=\"translate(16 ", num((top + bottom) / 2),
             ") rotate(-90)\" text-anchor=\"middle\">", xml_escape(plot.y_label), "</text>\n");

  // The series: one path each; a non-finite point lifts the pen. Sparse series (a validation
  // loss measured every few hundred steps) also get a dot at every point.
  for (size_t k = 0; k < plot.series.size(); ++k) {
    const PlotSeries& s = plot.series[k];
    std::string colour = s.colour.empty() ? kPalette[k % std::size(kPalette)] : s.colour;
    std::string d;
    bool pen_down = false;
    size_t finite = 0;
    for (size_t i = 0; i < s.x.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) {
        pen_down = false;
        continue;
      }
      d += cat(pen_down ? " L" : " M", num(px(s.x[i])), " ", num(py(s.y[i])));
      pen_down = true;
      ++finite;
    }
    if (!d.empty() && !s.points_only) {
      svg += cat("<path class=\"series\" d=\"", d.substr(1), "\" fill=\"none\" stroke=\"", colour,
                 "\" stroke-width=\"1.5\"/>\n");
    }
    if (finite <= 60 || s.points_only) {
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
        svg += cat("<circle cx=\"", num(px(s.x[i])), "\" cy=\"", num(py(s.y[i])), "\" r=\"2.5\" fill=\"",
                   colour, "\"/>\n");
      }
    }
    // Legend entry, top right (or left) inside the plot area.
    double ly = top + 16 + 18.0 * k;
    const double lx = plot.legend_left ? left + 130 : right;  // the entry's right end
    if (s.points_only) {
      svg +=
          cat("<circle cx=\"", num(lx - 98), "\" cy=\"", num(ly - 4), "\" r=\"3\" fill=\"", colour, "\"/>\n");
    } else {
      svg += cat("<line x1=\"", num(lx - 110), "\" y1=\"", num(ly - 4), "\" x2=\"", num(lx - 86), "\" y2=\"",
                 num(ly - 4), "\" stroke=\"", colour, "\" stroke-width=\"2\"/>\n");
    }
    svg += cat("<text class=\"legend\" x=\"", num(lx - 80), "\" y=\"", num(ly), "\">", xml_escape(s.name),
               "</text>\n");
  }
  svg += "</svg>\n";
  return svg;
}

void write_svg(const LinePlot& plot, const std::filesystem::path& path) {
  write_file_atomic(path, render_svg(plot));
}

std::string render_svg(const HeatMap& map) {
  GPT2_CHECK(map.rows > 0 && map.cols > 0 && map.cell > 0 && !map.panels.empty(), "heat map '", map.title,
             "': ", map.panels.size(), " panels of ", map.rows, "x", map.cols, " values, cell ", map.cell);
  for (const HeatMapPanel& p : map.panels) {
    GPT2_CHECK(p.values.size() == static_cast<size_t>(map.rows) * map.cols, "heat map '", map.title,
               "': panel '", p.title, "' has ", p.values.size(), " values, expected ", map.rows, "x",
               map.cols);
  }
  bool panel_titles = false;
  for (const HeatMapPanel& p : map.panels) panel_titles = panel_titles || !p.title.empty();

  // Layout, in pixels: title, panel titles, the panels side by side, x ticks and label below;
  // y ticks and label on the left; the colour bar with its ticks and label on the right.
  const double pw = map.cols * map.cell, ph = map.rows * map.cell, gap = 24;
  const double left = 64, top = panel_titles ? 58 : 40;
  const double panels_right = left + map.panels.size() * pw + (map.panels.size() - 1) * gap;
  const double bar_x = panels_right + 28, bar_w = 16;
  const double width = bar_x + bar_w + 76, height = top + ph + 48;
  std::string svg = cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", num(width), "\" height=\"",
                        num(height), "\" viewBox=\"0 0 ", num(width), " ", num(height),
                        "\" font-family=\"sans-serif\" font-size=\"12\">\n");
  svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  svg += cat("<text class=\"title\" x=\"", num(width / 2),
             "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">", xml_escape(map.title), "</text>\n");

  const std::vector<int> xt = index_ticks(map.cols), yt = index_ticks(map.rows);
  for (size_t k = 0; k < map.panels.size(); ++k) {
    const HeatMapPanel& p = map.panels[k];
    const double x0 = left + k * (pw + gap);
    if (!p.title.empty()) {
      svg += cat("<text class=\"panel\" x=\"", num(x0 + pw / 2), "\" y=\"", num(top - 8),
                 "\" text-anchor=\"middle\">", xml_escape(p.title), "</text>\n");
    }
    const std::vector<uint8_t> png =
        encode_png_rgb(map.cols * map.cell, map.rows * map.cell,
                       heatmap_rgb(p.values, map.rows, map.cols, map.lo, map.hi, map.cell));
    svg += cat("<image x=\"", num(x0), "\" y=\"", num(top), "\" width=\"", num(pw), "\" height=\"", num(ph),
               "\" href=\"data:image/png;base64,", base64(png), "\"/>\n");
    svg += cat("<rect x=\"", num(x0), "\" y=\"", num(top), "\" width=\"", num(pw), "\" height=\"", num(ph),
               "\" fill=\"none\" stroke=\"black\"/>\n");
    for (int t : xt) {  // column indices under every panel
      const double x = x0 + (t + 0.5) * map.cell;
      svg += cat("<line x1=\"", num(x), "\" y1=\"", num(top + ph), "\" x2=\"", num(x), "\" y2=\"",
                 num(top + ph + 4), "\" stroke=\"black\"/>\n");
      svg += cat("<text class=\"xtick\" x=\"", num(x), "\" y=\"", num(top + ph + 16),
                 "\" text-anchor=\"middle\">", t, "</text>\n");
    }
  }
  for (int t : yt) {  // row indices left of the first panel
    const double y = top + (t + 0.5) * map.cell;
    svg += cat("<line x1=\"", num(left - 4), "\" y1=\"", num(y), "\" x2=\"", num(left), "\" y2=\"", num(y),
               "\" stroke=\"black\"/>\n");
    svg += cat("<text class=\"ytick\" x=\"", num(left - 7), "\" y=\"", num(y + 4), "\" text-anchor=\"end\">",
               t, "</text>\n");
  }
  svg += cat("<text class=\"xlabel\" x=\"", num((left + panels_right) / 2), "\" y=\"", num(top + ph + 36),
             "\" text-anchor=\"middle\">", xml_escape(map.x_label), "</text>\n");
  svg += cat("<text class=\"ylabel\" transform=\"translate(18 ", num(top + ph / 2),
             ") rotate(-90)\" text-anchor=\"middle\">", xml_escape(map.y_label), "</text>\n");

  // The colour bar: the ramp's five stops as a gradient, hi at the top, with its own ticks.
  svg += "<defs><linearGradient id=\"ramp\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int i = 0; i < 5; ++i) {
    svg += cat("<stop offset=\"", i * 25, "%\" stop-color=\"rgb(", int{kHeatStops[i][0]}, ",",
               int{kHeatStops[i][1]}, ",", int{kHeatStops[i][2]}, ")\"/>");
  }
  svg += "</linearGradient></defs>\n";
  svg += cat("<rect class=\"colourbar\" x=\"", num(bar_x), "\" y=\"", num(top), "\" width=\"", num(bar_w),
             "\" height=\"", num(ph), "\" fill=\"url(#ramp)\" stroke=\"black\"/>\n");
  const double range = map.hi > map.lo ? map.hi - map.lo : 1.0;
  for (double t : nice_ticks(map.lo, map.hi, 5)) {
    if (t < map.lo - 1e-9 * range || t > map.hi + 1e-9 * range) continue;
    const double y = top + ph - (t - map.lo) / range * ph;
    svg += cat("<line x1=\"", num(bar_x + bar_w), "\" y1=\"", num(y), "\" x2=\"", num(bar_x + bar_w + 4),
               "\" y2=\"", num(y), "\" stroke=\"black\"/>\n");
    svg += cat("<text class=\"ctick\" x=\"", num(bar_x + bar_w + 7), "\" y=\"", num(y + 4), "\">",
               tick_label(t), "</text>\n");
  }
  svg += cat("<text class=\"clabel\" transform=\"translate(", num(width - 12), " ", num(top + ph / 2),
             ") rotate(-90)\" text-anchor=\"middle\">", xml_escape(map.colour_label), "</text>\n");
  svg += "</svg>\n";
  return svg;
}

void write_svg(const HeatMap& map, const std::filesystem::path& path) {
  write_file_atomic(path, render_svg(map));
}

}  // namespace gpt2
