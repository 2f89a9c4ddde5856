/// @file catch.h
/// @brief The one place that includes Catch2, so the tests build with Catch2 2 (Debian 12's
/// package) and Catch2 3 alike. Test files include "tests/catch.h", never Catch2 directly.
///
/// Tests may use the Catch2 2 spellings `Approx(x)` and `Catch::Contains("text")`; with Catch2 3
/// the shims below map them to `Catch::Approx` and `Catch::Matchers::ContainsSubstring`.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>  // Catch2 3
#include <string>
using Catch::Approx;
namespace Catch {
inline auto Contains(const std::string& text) {
  return Matchers::ContainsSubstring(text);
}
}  // namespace Catch
#else
#include <catch2/catch.hpp>  // Catch2 2
#endif
