/// @file plot.h
/// @brief A dependency-free SVG line plot, for loss curves: a title, axes with ticks and labels,
/// and several named series (for example training and validation loss).
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

/// Tick positions covering [lo, hi] with a step of 1, 2 or 5 times a power of ten, about
/// `target` ticks in all. lo/hi are widened to the ticks around them (first <= lo, last >= hi).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

/// The plot as the text of an SVG file. Throws gpt2::Error if a series' x and y lengths differ.
std::string render_svg(const LinePlot& plot);

/// Writes render_svg(plot) to `path` atomically.
void write_svg(const LinePlot& plot, const std::filesystem::path& path);

}  // namespace gpt2
