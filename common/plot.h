/// @file plot.h
/// @brief Dependency-free SVG pictures: a line plot (loss curves, data and fits) with a title,
/// axes with ticks and labels, and several named series; and a heat map of matrices with
/// labelled axes and a colour bar.
///
/// @code
///   gpt2::LinePlot plot;
///   plot.title = "tiny Shakespeare";
///   plot.x_label = "step";
///   plot.y_label = "loss";
///   plot.series.push_back({"train", steps, train_losses});
///   plot.series.push_back({"val", eval_steps, val_losses});
///   gpt2::write_svg(plot, "loss.svg");
/// @endcode
///
/// Points whose x or y is not finite (NaN, inf) are skipped and break the line, so a series can
/// carry "no value at this step" as NaN. The axes are chosen from the data with "nice" tick steps
/// (1, 2 or 5 times a power of ten).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace gpt2 {

/// One line of the plot.
struct PlotSeries {
  std::string name;          ///< shown in the legend
  std::vector<double> x;     ///< x coordinates (same length as y)
  std::vector<double> y;     ///< y coordinates; non-finite values are skipped
  std::string colour;        ///< an SVG colour ("#1f77b4"); empty picks one from a fixed palette
  bool points_only = false;  ///< a dot at each point and no line (measured data, not a curve)
};

/// A line plot: its labels, size in pixels and series.
struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 720;           ///< pixels
  int height = 440;          ///< pixels
  bool legend_left = false;  ///< the legend in the top left corner instead of the top right
  std::vector<PlotSeries> series;
};

/// Text made safe inside SVG (or any XML): &, <, > and " become entities.
std::string xml_escape(const std::string& text);

/// Tick positions covering [lo, hi] with a step of 1, 2 or 5 times a power of ten, about
/// `target` ticks in all. lo/hi are widened to the ticks around them (first <= lo, last >= hi).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

/// The plot as the text of an SVG file. Throws gpt2::Error if a series' x and y lengths differ.
std::string render_svg(const LinePlot& plot);

/// Writes render_svg(plot) to `path` atomically.
void write_svg(const LinePlot& plot, const std::filesystem::path& path);

/// One matrix of a heat map.
struct HeatMapPanel {
  std::string title;          ///< above the panel ("causal"); may be empty
  std::vector<float> values;  ///< rows x cols, row-major (row 0 is drawn at the top); NaN is grey
};

/// A heat map: one or more panels of rows x cols values side by side, sharing the axis labels
/// and one colour bar. The cells are an embedded PNG (image.h's ramp, dark blue = lo, yellow =
/// hi); the axes tick the row and column indices.
/// @code
///   gpt2::HeatMap map;
///   map.title = "attention weights";
///   map.x_label = "key position s";
///   map.y_label = "query position t";
///   map.colour_label = "weight";
///   map.rows = map.cols = T;
///   map.panels.push_back({"causal", weights});
///   gpt2::write_svg(map, "attention.svg");
/// @endcode
struct HeatMap {
  std::string title;
  std::string x_label;       ///< under the panels: what the columns are
  std::string y_label;       ///< left of the panels: what the rows are
  std::string colour_label;  ///< beside the colour bar: what the values are
  int rows = 0, cols = 0;
  float lo = 0, hi = 1;  ///< the colour bar's range; values outside are clamped
  int cell = 8;          ///< pixels per value
  std::vector<HeatMapPanel> panels;
};

/// The heat map as the text of an SVG file. Throws gpt2::Error for an empty map or a panel whose
/// size is not rows x cols.
std::string render_svg(const HeatMap& map);

/// Writes render_svg(map) to `path` atomically.
void write_svg(const HeatMap& map, const std::filesystem::path& path);

}  // namespace gpt2
