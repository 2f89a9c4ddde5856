#include "image.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "error.h"

// stb_image_write is a single-header library: its implementation is compiled here, and only here.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO_FAILURE_MESSAGES
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace gpt2 {

namespace {

void check_image(int width, int height, std::span<const uint8_t> rgb, const std::string& what) {
  GPT2_CHECK(width > 0 && height > 0, what, ": image size ", width, "x", height, " is empty");
  GPT2_CHECK(rgb.size() == static_cast<size_t>(width) * height * 3, what, ": ", rgb.size(), " bytes for a ",
             width, "x", height, " RGB image");
}

// stb_image_write hands the encoded bytes to this callback, piece by piece.
void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  const auto* bytes = static_cast<const uint8_t*>(data);
  out->insert(out->end(), bytes, bytes + size);
}

}  // namespace

void write_png_rgb(const std::filesystem::path& path, int width, int height, std::span<const uint8_t> rgb) {
  check_image(width, height, rgb, path.string());
  int ok = stbi_write_png(path.c_str(), width, height, 3, rgb.data(), width * 3);
  GPT2_CHECK(ok != 0, "cannot write PNG '", path.string(), "'");
}

std::vector<uint8_t> encode_png_rgb(int width, int height, std::span<const uint8_t> rgb) {
  check_image(width, height, rgb, "encode_png_rgb");
  std::vector<uint8_t> png;
  int ok = stbi_write_png_to_func(append_bytes, &png, width, height, 3, rgb.data(), width * 3);
  GPT2_CHECK(ok != 0 && !png.empty(), "encode_png_rgb: cannot encode a ", width, "x", height, " image");
  return png;
}

void heat_colour(float t, uint8_t rgb[3]) {
  t = std::clamp(t, 0.0f, 1.0f);
  float x = t * 4.0f;
  int i = std::min(static_cast<int>(x), 3);
  float f = x - static_cast<float>(i);
  for (int c = 0; c < 3; ++c) {
    const float a = kHeatStops[i][c], b = kHeatStops[i + 1][c];
    rgb[c] = static_cast<uint8_t>(std::lround(a + f * (b - a)));
  }
}

std::vector<uint8_t> heatmap_rgb(std::span<const float> values, int rows, int cols, float lo, float hi,
                                 int cell) {
  GPT2_CHECK(rows > 0 && cols > 0 && cell > 0, "heat map of ", rows, "x", cols, " values, cell ", cell,
             ": empty");
  GPT2_CHECK(values.size() == static_cast<size_t>(rows) * cols, "heat map: ", values.size(), " values for a ",
             rows, "x", cols, " map");
  const int width = cols * cell, height = rows * cell;
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  const float range = hi > lo ? hi - lo : 1.0f;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const float v = values[static_cast<size_t>(r) * cols + c];
      uint8_t colour[3] = {128, 128, 128};
      if (!std::isnan(v)) heat_colour((v - lo) / range, colour);
      for (int y = r * cell; y < (r + 1) * cell; ++y) {
        for (int x = c * cell; x < (c + 1) * cell; ++x) {
          std::copy(colour, colour + 3, &rgb[(static_cast<size_t>(y) * width + x) * 3]);
        }
      }
    }
  }
  return rgb;
}

void write_heatmap_png(const std::filesystem::path& path, std::span<const float> values, int rows, int cols,
                       float lo, float hi, int cell) {
  GPT2_CHECK(rows > 0 && cols > 0 && cell > 0, path.string(), ": empty heat map");
  GPT2_CHECK(values.size() == static_cast<size_t>(rows) * cols, path.string(), ": ", values.size(),
             " values for a ", rows, "x", cols, " heat map");
  write_png_rgb(path, cols * cell, rows * cell, heatmap_rgb(values, rows, cols, lo, hi, cell));
}

}  // namespace gpt2
