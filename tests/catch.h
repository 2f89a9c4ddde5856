/// @file catch.h
/// @brief The one place that includes Catch2, so the tests build with Catch2 2 (Debian 12's
/// package) and Catch2 3 alike. Test files include "tests/catch.h", never Catch2 directly.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>  // Catch2 3
#else
#include <catch2/catch.hpp>  // Catch2 2
#endif
