/// @file grads_ready.h
/// @brief What a backward pass can say while it runs: which gradients already hold their final
/// value (GPT2::set_grad_ready_callback; chapter 11 sends those to the other ranks while the
/// earlier layers are still being computed).
#pragma once

#include <cstddef>

namespace gpt2 {

/// One report of a backward pass, in offsets (floats) into the gradient buffer.
///
/// Backward runs from the loss to the input, and the buffer puts the input side first, so the
/// final gradients form a tail that grows towards the start: `first_ready`. The one exception is
/// an embedding table that a tied head also uses (GPT-2's wte): the head adds its gradient first,
/// and the embedding's backward, the very last step, adds to the rows of the input tokens only.
/// Once the head is done, every other row is final, long before the tail reaches the table.
struct GradsReady {
  /// Every gradient from this offset to the end of the buffer is final.
  size_t first_ready = 0;
  /// An embedding table below first_ready, rows `table_rows` of `row_floats` floats from offset
  /// `table` (row t belongs to token id t), whose gradient is final except the rows of the token
  /// ids of the last forward's inputs. table_rows == 0: no such table in this report.
  size_t table = 0;
  size_t table_rows = 0;
  size_t row_floats = 0;
};

}  // namespace gpt2
