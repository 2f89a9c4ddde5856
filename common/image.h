/// @file image.h
/// @brief Pictures the demos write: PNG files (through stb_image_write) and heat maps of matrices.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>

namespace gpt2 {

/// Writes an 8-bit RGB image (row-major, 3 bytes a pixel) as PNG. Throws gpt2::Error on failure.
void write_png_rgb(const std::filesystem::path& path, int width, int height, std::span<const uint8_t> rgb);

/// Writes a rows x cols matrix as a heat map PNG, each value one `cell` x `cell` square. Values map
/// linearly from [lo, hi] to a dark-blue -> yellow colour ramp (viridis-like); NaN draws grey.
void write_heatmap_png(const std::filesystem::path& path, std::span<const float> values, int rows, int cols,
                       float lo, float hi, int cell = 8);

/// The colour ramp used by write_heatmap_png, for t in [0, 1] (clamped).
void heat_colour(float t, uint8_t rgb[3]);

}  // namespace gpt2
