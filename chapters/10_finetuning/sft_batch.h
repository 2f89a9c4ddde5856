/// @file sft_batch.h
/// @brief Putting variable-length SFT examples into fixed (B, T) batches: padding or packing,
/// with target -1 wherever nothing is to be learnt.
///
/// The model trains on batches of B rows of T tokens (chapter 05's forward(tokens, targets, B, T)),
/// but examples have any length. Two ways to fill a row:
///
///  - **padding**: one example per row, the rest of the row filled with a padding token whose
///    target is -1. Every example starts at position 0, as it will when the model answers.
///    Rows of short examples are mostly padding: wasted computation.
///  - **packing**: examples follow each other in a row as long as they fit (an example is never
///    split; the next one starts a new row). Less padding; but attention is causal, not per
///    example, so a later example of the row also sees the earlier ones, and it starts at a
///    position above 0. The earlier example ends with `<|endoftext|>`, exactly as a finished turn
///    of a conversation does (chat_template.h), so this is also how the model sees a chat.
///
/// Within a row, the targets come from the examples' masks (masked_loss.h's sft_targets): the
/// position before each assistant token has that token as its target; every other position,
/// the last position of each example (whose next token belongs to another example) and the
/// padding have -1.
///
/// **Too long.** An example of more than T tokens does not fit in a row. It is skipped, and
/// counted: `gpt2 finetune` reports how many were skipped (cutting it instead would train the
/// model on an answer without its end, or on an answer without its question). A dataset in which
/// every example is too long is an error.
#pragma once

#include <vector>

#include "chapters/10_finetuning/chat_template.h"

namespace gpt2 {

/// How examples are laid out in rows.
enum class SftLayout { pad, pack };

/// One batch: tokens and targets, both (B, T), row after row.
struct SftBatch {
  int B = 0, T = 0;
  std::vector<int> tokens;   ///< (B, T)
  std::vector<int> targets;  ///< (B, T), -1 where there is no target
  int num_targets = 0;       ///< positions that count in the loss
  int num_examples = 0;      ///< examples in the batch
};

/// Removes (in place) the examples longer than T tokens and returns how many were removed.
int drop_long_examples(std::vector<SftExample>& examples, int T);

/// The examples, in the given order, laid out in rows of T tokens (each example <= T tokens,
/// see drop_long_examples) and grouped into batches of B rows. The last batch is completed with
/// rows of padding (all targets -1) so every batch has the same shape. `pad_id` is the token
/// written in padding positions (any valid id: no position ever predicts it).
std::vector<SftBatch> make_sft_batches(const std::vector<SftExample>& examples, int B, int T,
                                       SftLayout layout, int pad_id);

}  // namespace gpt2
