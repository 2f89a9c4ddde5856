// The main() of the chapter 09 tests: without a usable GPU, say so and exit with
// kSkipReturnCode (77), which CTest reports as "Skipped" (SKIP_RETURN_CODE in CMakeLists.txt).
// With one, run the Catch2 tests as usual.
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>  // Catch2 3
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>  // Catch2 2
#endif

#include <cstdio>

#include "chapters/09_cuda/cuda_check.h"
#include "chapters/09_cuda/device.h"

int main(int argc, char** argv) {
  const gpt2::cuda::DeviceStatus status = gpt2::cuda::cuda_device_status();
  if (!status.usable) {
    std::printf("SKIPPED: the chapter 09 CUDA tests need an NVIDIA GPU: %s\n",
                gpt2::cuda::describe(status).c_str());
    return gpt2::cuda::kSkipReturnCode;
  }
  std::printf("CUDA device: %s\n", gpt2::cuda::describe(status).c_str());
  gpt2::cuda::set_sync_after_launch(true);  // a failing kernel is named by its own launch check
  return Catch::Session().run(argc, argv);
}
