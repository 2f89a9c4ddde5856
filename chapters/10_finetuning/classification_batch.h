/// @file classification_batch.h
/// @brief Putting labelled texts into (B, T) batches for the classification head.
///
/// Each text is encoded as ordinary text and becomes one row: its tokens from position 0, then
/// padding. The head reads the hidden state at the row's last real token (classifier_head.h),
/// so `last[b]` records where that is and what follows it does not matter (causal attention: no
/// earlier position sees the padding).
///
/// **Too long.** A text of more than T tokens keeps its first T: the class of a speech does not
/// depend on seeing all of it, and a classifier must answer for every text it is given (unlike an
/// SFT example, whose answer would be cut off). encode_labeled_text says whether it cut.
///
/// A last batch with fewer texts than B is completed with empty rows whose label is -1, which
/// the cross-entropy ignores (masked_loss.h), so every batch has the same shape.
#pragma once

#include <string_view>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"

namespace gpt2 {

/// A text as the classifier reads it.
struct EncodedText {
  std::vector<int> tokens;  ///< at most T, never empty
  int label = -1;           ///< the class id, or -1 for none (a text to classify)
  bool truncated = false;   ///< true if the text had more than T tokens
};

/// The first T tokens of `text` (ordinary text). An empty text is an error.
EncodedText encode_labeled_text(const Tokenizer& tok, std::string_view text, int label, int T);

/// One batch: B rows of T tokens, each row's last real position and its label.
struct ClassificationBatch {
  int B = 0, T = 0;
  std::vector<int> tokens;  ///< (B, T)
  std::vector<int> last;    ///< (B) position of each row's last token (0 for an empty row)
  std::vector<int> labels;  ///< (B) class ids, -1 for an empty row
  int num_examples = 0;
};

/// The texts, in the given order, B to a batch; `pad_id` fills the rows after their last token.
std::vector<ClassificationBatch> make_classification_batches(const std::vector<EncodedText>& texts, int B,
                                                             int T, int pad_id);

}  // namespace gpt2
