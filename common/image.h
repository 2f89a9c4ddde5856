/// @file image.h
/// @brief Pictures the demos write: PNG files (through stb_image_write) and heat maps of matrices.
///
/// A heat map with axes, labels and a colour bar is an SVG: see gpt2::HeatMap in plot.h, which
/// draws its cells with the functions here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

namespace gpt2 {

/// Writes an 8-bit RGB image (row-major, 3 bytes a pixel) as PNG. Throws gpt2::Error on failure.
void write_png_rgb(const std::filesystem::path& path, int width, int height, std::span<const uint8_t> rgb);

/// The same image as the bytes of a PNG file, in memory (for embedding in an SVG).
std::vector<uint8_t> encode_png_rgb(int width, int height, std::span<const uint8_t> rgb);

/// The pixels of a rows x cols matrix drawn as a heat map, each value one `cell` x `cell` square:
/// an RGB image of (cols * cell) x (rows * cell) pixels. Values map linearly from [lo, hi] to the
/// dark-blue -> yellow ramp of heat_colour; NaN draws grey.
std::vector<uint8_t> heatmap_rgb(std::span<const float> values, int rows, int cols, float lo, float hi,
                                 int cell);

/// Writes heatmap_rgb(...) as a PNG file (no axes; plot.h's HeatMap draws them).
void write_heatmap_png(const std::filesystem::path& path, std::span<const float> values, int rows, int cols,
                       float lo, float hi, int cell = 8);

/// The colour ramp of the heat maps, for t in [0, 1] (clamped): viridis-like, through
/// kHeatStops[0] .. kHeatStops[4] at t = 0, 1/4, ..., 1, linearly interpolated in RGB.
void heat_colour(float t, uint8_t rgb[3]);

/// The five colours heat_colour interpolates (so a colour bar can draw the same ramp).
inline constexpr uint8_t kHeatStops[5][3] = {
    {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};

}  // namespace gpt2
