#include <cstring>
#include <filesystem>

#include "common/error.h"
#include "common/file_io.h"
#include "common/image.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;

TEST_CASE("heat map PNG has the PNG signature and the right size in its header", "[image]") {
  fs::path p = gpt2::test_temp_dir("heatmap") / "heatmap.png";
  std::vector<float> v{0.0f, 0.5f, 1.0f, NAN, 0.25f, 0.75f};
  gpt2::write_heatmap_png(p, v, 2, 3, 0.0f, 1.0f, 4);
  std::string bytes = gpt2::read_file(p);
  REQUIRE(bytes.size() > 24);
  CHECK(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  // IHDR: width and height as big-endian u32 at bytes 16..23.
  auto be32 = [&](size_t o) {
    return (uint32_t(uint8_t(bytes[o])) << 24) | (uint32_t(uint8_t(bytes[o + 1])) << 16) |
           (uint32_t(uint8_t(bytes[o + 2])) << 8) | uint32_t(uint8_t(bytes[o + 3]));
  };
  CHECK(be32(16) == 12);
  CHECK(be32(20) == 8);
  CHECK_THROWS_AS(gpt2::write_heatmap_png(p, v, 2, 2, 0.0f, 1.0f), gpt2::Error);
}

TEST_CASE("heat colour ramp runs from dark blue to yellow", "[image]") {
  uint8_t lo[3], hi[3], mid[3];
  gpt2::heat_colour(0.0f, lo);
  gpt2::heat_colour(1.0f, hi);
  gpt2::heat_colour(0.5f, mid);
  CHECK(lo[0] == 68);
  CHECK(lo[2] == 84);
  CHECK(hi[0] == 253);
  CHECK(hi[1] == 231);
  CHECK(mid[1] == 145);
  gpt2::heat_colour(2.0f, mid);  // clamped
  CHECK(std::memcmp(mid, hi, 3) == 0);
}
