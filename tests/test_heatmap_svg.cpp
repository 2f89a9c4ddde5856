// The SVG heat map of plot.h: its labels and ticks, and the embedded picture, decoded with an
// independent base64 decoder and stb_image (not the code that wrote it), has the right colours.
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/image.h"
#include "common/plot.h"
#include "tests/catch.h"

// stb_image (the reader) is used by this test only, so its implementation is compiled here.
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

namespace {

std::vector<uint8_t> from_base64(const std::string& text) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  std::vector<uint8_t> out;
  uint32_t bits = 0;
  int n = 0;
  for (char c : text) {
    if (c == '=') break;
    bits = (bits << 6) | static_cast<uint32_t>(digit(c));
    n += 6;
    if (n >= 8) {
      n -= 8;
      out.push_back(static_cast<uint8_t>((bits >> n) & 0xFF));
    }
  }
  return out;
}

// The attribute values of every `<text class="cls" ...>label</text>`, in order.
std::vector<std::string> texts_of(const std::string& svg, const std::string& cls) {
  std::vector<std::string> out;
  const std::string open = "<text class=\"" + cls + "\"";
  for (size_t p = svg.find(open); p != std::string::npos; p = svg.find(open, p + 1)) {
    const size_t start = svg.find('>', p) + 1;
    out.push_back(svg.substr(start, svg.find("</text>", start) - start));
  }
  return out;
}

}  // namespace

TEST_CASE("heat map SVG: labels, index ticks, colour bar and the cells' colours", "[image]") {
  gpt2::HeatMap map;
  map.title = "weights <of> t & s";
  map.x_label = "key s";
  map.y_label = "query t";
  map.colour_label = "P[t, s]";
  map.rows = 3;
  map.cols = 12;
  map.cell = 2;
  map.lo = 0;
  map.hi = 1;
  std::vector<float> values(36);
  for (int i = 0; i < 36; ++i) values[i] = static_cast<float>(i) / 35.0f;
  values[5] = NAN;
  map.panels.push_back({"left", values});
  map.panels.push_back({"right", std::vector<float>(36, 1.0f)});
  const std::string svg = gpt2::render_svg(map);

  CHECK(texts_of(svg, "title") == std::vector<std::string>{"weights &lt;of&gt; t &amp; s"});
  CHECK(texts_of(svg, "panel") == std::vector<std::string>{"left", "right"});
  CHECK(texts_of(svg, "xlabel") == std::vector<std::string>{"key s"});
  CHECK(texts_of(svg, "ylabel") == std::vector<std::string>{"query t"});
  CHECK(texts_of(svg, "clabel") == std::vector<std::string>{"P[t, s]"});
  // Column indices 0..11 under each panel, row indices 0..2, the colour bar's 0 .. 1.
  CHECK(texts_of(svg, "xtick") == std::vector<std::string>{"0", "5", "10", "0", "5", "10"});
  CHECK(texts_of(svg, "ytick") == std::vector<std::string>{"0", "1", "2"});
  CHECK(texts_of(svg, "ctick") == std::vector<std::string>{"0", "0.5", "1"});

  // The first panel's picture: 24 x 6 pixels, cell (r, c) coloured by heat_colour(value).
  const std::string key = "href=\"data:image/png;base64,";
  const size_t start = svg.find(key) + key.size();
  REQUIRE(start > key.size());
  const std::vector<uint8_t> png = from_base64(svg.substr(start, svg.find('"', start) - start));
  int w = 0, h = 0, channels = 0;
  uint8_t* pixels = stbi_load_from_memory(png.data(), static_cast<int>(png.size()), &w, &h, &channels, 3);
  REQUIRE(pixels != nullptr);
  CHECK(w == 24);
  CHECK(h == 6);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 12; ++c) {
      uint8_t expected[3] = {128, 128, 128};  // NaN is grey
      if (r * 12 + c != 5) gpt2::heat_colour(values[r * 12 + c], expected);
      const uint8_t* got = pixels + ((r * 2 + 1) * 24 + c * 2 + 1) * 3;  // a pixel inside the cell
      INFO("cell " << r << ", " << c);
      CHECK(std::memcmp(got, expected, 3) == 0);
    }
  }
  stbi_image_free(pixels);
}

TEST_CASE("heat map SVG rejects a panel of the wrong size", "[image]") {
  gpt2::HeatMap map;
  map.rows = 2;
  map.cols = 2;
  map.panels.push_back({"p", {1, 2, 3}});
  CHECK_THROWS_WITH(gpt2::render_svg(map), Catch::Contains("panel 'p' has 3 values, expected 2x2"));
  map.panels.clear();
  CHECK_THROWS_AS(gpt2::render_svg(map), gpt2::Error);
}

TEST_CASE("a points-only series draws dots and no line", "[image]") {
  gpt2::LinePlot plot;
  plot.series.push_back({"data", {0, 1, 2}, {1, 2, 3}, "", true});
  const std::string svg = gpt2::render_svg(plot);
  CHECK(svg.find("class=\"series\"") == std::string::npos);
  size_t dots = 0;
  for (size_t p = svg.find("<circle"); p != std::string::npos; p = svg.find("<circle", p + 1)) ++dots;
  CHECK(dots == 4);  // three points and the legend's dot
}
