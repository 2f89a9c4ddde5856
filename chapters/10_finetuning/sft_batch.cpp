#include "chapters/10_finetuning/sft_batch.h"

#include <algorithm>

#include "chapters/10_finetuning/masked_loss.h"
#include "common/error.h"

namespace gpt2 {

int drop_long_examples(std::vector<SftExample>& examples, int T) {
  const size_t before = examples.size();
  std::erase_if(examples, [T](const SftExample& e) { return static_cast<int64_t>(e.tokens.size()) > T; });
  return static_cast<int>(before - examples.size());
}

std::vector<SftBatch> make_sft_batches(const std::vector<SftExample>& examples, int B, int T,
                                       SftLayout layout, int pad_id) {
  GPT2_CHECK(B >= 1 && T >= 2, "make_sft_batches: B = ", B, " and T = ", T, " (need B >= 1, T >= 2)");
  std::vector<SftBatch> batches;
  SftBatch batch;
  int row = 0, used = 0;  // the row being filled (inside `batch`), and its positions used so far
  auto new_batch = [&]() {
    batch = SftBatch{B,
                     T,
                     std::vector<int>(static_cast<size_t>(B) * T, pad_id),
                     std::vector<int>(static_cast<size_t>(B) * T, -1),
                     0,
                     0};
    row = 0;
    used = 0;
  };
  new_batch();
  for (const SftExample& e : examples) {
    const int n = static_cast<int>(e.tokens.size());
    GPT2_CHECK(n <= T, "make_sft_batches: an example of ", n, " tokens does not fit in T = ", T,
               " (drop_long_examples first)");
    GPT2_CHECK(e.assistant.size() == e.tokens.size(), "make_sft_batches: mask and tokens differ in length");
    if (n == 0) continue;
    // Start a new row when padding (one example per row) or when this example does not fit.
    const bool row_taken = used > 0 && (layout == SftLayout::pad || used + n > T);
    if (row_taken) {
      ++row;
      used = 0;
      if (row == B) {
        batches.push_back(std::move(batch));
        new_batch();
      }
    }
    int* tokens = batch.tokens.data() + static_cast<size_t>(row) * T + used;
    int* targets = batch.targets.data() + static_cast<size_t>(row) * T + used;
    std::copy(e.tokens.begin(), e.tokens.end(), tokens);
    batch.num_targets += sft_targets(targets, e.tokens.data(), e.assistant.data(), n);
    ++batch.num_examples;
    used += n;
  }
  if (batch.num_examples > 0) batches.push_back(std::move(batch));
  return batches;
}

}  // namespace gpt2
