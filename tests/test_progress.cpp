#include <cstdio>
#include <string>

#include "common/progress.h"
#include "tests/catch.h"

TEST_CASE("format_duration", "[progress]") {
  CHECK(gpt2::format_duration(12.34) == "12.3s");
  CHECK(gpt2::format_duration(185) == "3m05s");
  CHECK(gpt2::format_duration(3720) == "1h02m");
  CHECK(gpt2::format_duration(-1) == "?");
}

TEST_CASE("progress bar renders count, percentage, rate, ETA and suffix", "[progress]") {
  gpt2::ProgressBar bar("train", 200, "step", false, stderr);
  std::string line = bar.render(50, "loss 3.21");
  CHECK(line.rfind("train [######..................] 50/200 25% | ", 0) == 0);
  CHECK(line.find("step/s") != std::string::npos);
  CHECK(line.find("ETA") != std::string::npos);
  CHECK(line.find("| loss 3.21") != std::string::npos);
}

TEST_CASE("an enabled bar draws to its stream; a disabled one stays quiet", "[progress]") {
  std::FILE* f = std::tmpfile();
  REQUIRE(f != nullptr);
  {
    gpt2::ProgressBar bar("x", 3, "it", true, f);
    for (int i = 1; i <= 3; ++i) bar.update(i);
    bar.finish();
  }
  long drawn = std::ftell(f);
  CHECK(drawn > 0);
  std::rewind(f);
  std::string text(static_cast<size_t>(drawn), '\0');
  CHECK(std::fread(text.data(), 1, text.size(), f) == text.size());
  CHECK(text.find("3/3 100%") != std::string::npos);
  CHECK(text.back() == '\n');
  std::FILE* g = std::tmpfile();
  {
    gpt2::ProgressBar quiet("x", 3, "it", false, g);
    quiet.update(3);
    quiet.finish();
  }
  CHECK(std::ftell(g) == 0);
  std::fclose(f);
  std::fclose(g);
}
