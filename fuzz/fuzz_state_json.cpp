// Fuzz target: a checkpoint's state.json (chapter 06's training_state_from_json), then the data
// position it holds given to a data loader, as resuming a run does. A state that parses must
// write and parse back to itself.
#include <vector>

#include "chapters/06_training/checkpoint.h"
#include "chapters/06_training/data_loader.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gpt2::TrainingState state;
  try {
    state =
        gpt2::training_state_from_json(std::string(reinterpret_cast<const char*>(data), size), "state.json");
  } catch (const gpt2::Error&) {
    return 0;
  }
  const gpt2::TrainingState again =
      gpt2::training_state_from_json(gpt2::training_state_to_json(state), "rewritten state.json");
  FUZZ_CHECK(again.step == state.step && again.train_loader == state.train_loader &&
             again.elapsed_seconds == state.elapsed_seconds && again.batch_size == state.batch_size &&
             again.seq_len == state.seq_len && again.grad_accum_steps == state.grad_accum_steps &&
             again.seed == state.seed);
  std::vector<int> tokens(1000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<int>(i % 50);
  gpt2::DataLoader loader(tokens, 4, 8, /*shuffle=*/true, state.seed, "tokens");
  try {
    loader.set_state(state.train_loader);
    std::vector<int> inputs(32), targets(32);
    loader.next_batch(inputs.data(), targets.data());
  } catch (const gpt2::Error&) {
  }
  return 0;
}
