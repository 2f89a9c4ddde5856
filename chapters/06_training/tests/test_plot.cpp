// common/plot.h: nice ticks (known values) and the structure of the SVG it writes.
#include <cmath>
#include <filesystem>
#include <string>

#include "common/file_io.h"
#include "common/plot.h"
#include "common/testing.h"
#include "tests/catch.h"

using namespace gpt2;

namespace {
int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("nice_ticks: steps of 1, 2 or 5 times a power of ten covering the range", "[plot]") {
  CHECK(nice_ticks(0, 10, 6) == std::vector<double>{0, 2, 4, 6, 8, 10});
  CHECK(nice_ticks(0, 1000, 6) == std::vector<double>{0, 200, 400, 600, 800, 1000});
  // Range 2.74 over 5 intervals wants steps of at least 0.548: 0.5 is too small, so 1.
  CHECK(nice_ticks(2.13, 4.87, 6) == std::vector<double>{2, 3, 4, 5});
  auto flat = nice_ticks(3, 3);  // a constant series still gets an axis
  CHECK(flat.front() < 3);
  CHECK(flat.back() > 3);
  CHECK_THROWS_WITH(nice_ticks(0, NAN), Catch::Contains("not finite"));
}

TEST_CASE("render_svg: title, labels, ticks, one path per series, legend", "[plot]") {
  LinePlot plot;
  plot.title = "loss <train & val>";
  plot.x_label = "step";
  plot.y_label = "loss";
  PlotSeries train{"train", {1, 2, 3, 4, 5}, {4.0, 3.5, NAN, 3.0, 2.9}, ""};
  PlotSeries val{"val", {2, 4}, {3.6, 3.1}, "#ff0000"};
  plot.series = {train, val};
  std::string svg = render_svg(plot);
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("loss &lt;train &amp; val&gt;") != std::string::npos);  // escaped title
  CHECK(count(svg, "class=\"series\"") == 2);
  CHECK(count(svg, "class=\"legend\"") == 2);
  CHECK(count(svg, "class=\"xtick\"") >= 3);
  CHECK(count(svg, "class=\"ytick\"") >= 3);
  CHECK(svg.find(">step</text>") != std::string::npos);
  CHECK(svg.find("stroke=\"#ff0000\"") != std::string::npos);
  // The NaN lifts the pen: the train path has two "M" (move) commands.
  size_t start = svg.find("class=\"series\" d=\"");
  std::string d = svg.substr(start, svg.find('"', start + 18) - start);
  CHECK(count(d, "M") == 2);
  CHECK(svg.find("nan") == std::string::npos);

  plot.series[1].y.pop_back();
  CHECK_THROWS_WITH(render_svg(plot), Catch::Contains("series 'val' has 2 x values but 1 y values"));
}

TEST_CASE("write_svg writes the file", "[plot]") {
  LinePlot plot;
  plot.title = "t";
  plot.series = {{"a", {0, 1}, {1, 0}, ""}};
  const auto path = gpt2::test_temp_dir("06_plot") / "plot.svg";
  write_svg(plot, path);
  CHECK(read_file(path) == render_svg(plot));
  std::filesystem::remove(path);
}
