// The main() of the chapter 08 tests. One test program, two CTest entries: test_08_cpu_parallel
// checks the portable and AVX2 kernel sets, test_08_cpu_parallel_avx512 (GPT2_TEST_SIMD=avx512)
// the AVX-512 set. On a CPU without AVX-512 the second says so and exits with 77, which CTest
// reports as "Skipped" (SKIP_RETURN_CODE in CMakeLists.txt), not as "Passed".
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>  // Catch2 3
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>  // Catch2 2
#endif

#include <cstdio>

#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"

namespace {
constexpr int kSkipReturnCode = 77;
}

int main(int argc, char** argv) {
  if (ch08_test::testing_avx512() && gpt2::detected_simd() != gpt2::Simd::avx512) {
    std::printf(
        "SKIPPED: this CPU has no AVX-512 (F, DQ, BW and VL; see the flags of lscpu), so the AVX-512 "
        "kernels, compiled into the library, are not run here; test_08_cpu_parallel checks the "
        "portable and %s kernels.\n",
        gpt2::simd_name(gpt2::detected_simd()));
    return kSkipReturnCode;
  }
  const gpt2::Simd saved = gpt2::active_simd();
  std::printf("kernel sets under test:");
  for (gpt2::Simd level : ch08_test::levels()) {
    gpt2::set_simd(level);
    std::printf(" %s", gpt2::simd_name(gpt2::active_simd()));
  }
  std::printf(" (this CPU: %s)\n", gpt2::simd_name(gpt2::detected_simd()));
  gpt2::set_simd(saved);
  return Catch::Session().run(argc, argv);
}
