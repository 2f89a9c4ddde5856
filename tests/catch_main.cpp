// The main() of every test program. Catch2 2 generates it from this macro; with Catch2 3 the
// library Catch2::Catch2WithMain provides it and this file compiles to nothing.
#if !__has_include(<catch2/catch_all.hpp>)
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#endif
