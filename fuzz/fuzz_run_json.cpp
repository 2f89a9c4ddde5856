// Fuzz target: a run's run.json (chapter 12's parse_run_file and resumed_options), as
// `gpt2 train --resume RUN_DIR` reads it, then every numeric option read as cmd_train reads it.
#include <string>
#include <vector>

#include "chapters/12_gpt2/train_options.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const std::vector<std::string> stored =
        gpt2::parse_run_file(std::string(reinterpret_cast<const char*>(data), size), "run.json");
    const std::vector<std::string> cli = {"--resume", "/nonexistent/run"};
    const gpt2::ArgParser p = gpt2::resumed_options(stored, cli, "run.json");
    FUZZ_CHECK(p.given("--resume"));
    for (const char* name : {"--batch-size", "--grad-accum", "--steps", "--warmup", "--eval-interval",
                             "--eval-steps", "--seed", "--n-layer", "--context"}) {
      if (p.given(name)) p.get_int(name, 0, INT32_MAX);
    }
    for (const char* name : {"--lr", "--min-lr", "--time-budget", "--beta1", "--eps"}) {
      if (p.given(name)) p.get_double(name, 0.0, 1e9);
    }
  } catch (const gpt2::Error&) {
  }
  return 0;
}
