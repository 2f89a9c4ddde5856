// Fuzz target: chapter 06's token files (read_token_file) and a data loader over one. The first
// byte picks the batch shape; the rest is the file. A file that reads must serve batches whose
// ids are all from the file.
#include <algorithm>
#include <vector>

#include "chapters/06_training/data_loader.h"
#include "chapters/06_training/token_file.h"
#include "fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int B = 1 + data[0] % 4, T = 1 + data[0] / 4 % 16;
  const std::filesystem::path path = gpt2_fuzz::scratch_dir() / "tokens.bin";
  gpt2_fuzz::write_bytes(path, std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  try {
    const std::vector<int32_t> ids = gpt2::read_token_file(path);
    for (int32_t id : ids) FUZZ_CHECK(id >= 0);
    gpt2::DataLoader loader = gpt2::DataLoader::from_file(path, B, T, /*shuffle=*/true, 7);
    const int32_t max_id = *std::max_element(ids.begin(), ids.end());
    std::vector<int> inputs(static_cast<size_t>(B) * T), targets(inputs.size());
    for (int i = 0; i < 3; ++i) {
      loader.next_batch(inputs.data(), targets.data());
      for (size_t k = 0; k < inputs.size(); ++k) FUZZ_CHECK(inputs[k] <= max_id && targets[k] <= max_id);
    }
  } catch (const gpt2::Error&) {
  }
  return 0;
}
