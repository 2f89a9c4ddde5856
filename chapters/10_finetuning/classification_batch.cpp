#include "chapters/10_finetuning/classification_batch.h"

#include <algorithm>

#include "common/error.h"

namespace gpt2 {

EncodedText encode_labeled_text(const Tokenizer& tok, std::string_view text, int label, int T) {
  GPT2_CHECK(T >= 1, "encode_labeled_text: T = ", T);
  EncodedText e;
  e.tokens = tok.encode(text);
  GPT2_CHECK(!e.tokens.empty(), "encode_labeled_text: an empty text has no last token to classify");
  e.truncated = static_cast<int>(e.tokens.size()) > T;
  if (e.truncated) e.tokens.resize(static_cast<size_t>(T));
  e.label = label;
  return e;
}

std::vector<ClassificationBatch> make_classification_batches(const std::vector<EncodedText>& texts, int B,
                                                             int T, int pad_id) {
  GPT2_CHECK(B >= 1 && T >= 1, "make_classification_batches: B = ", B, " and T = ", T);
  std::vector<ClassificationBatch> batches;
  for (size_t first = 0; first < texts.size(); first += static_cast<size_t>(B)) {
    ClassificationBatch batch{B,
                              T,
                              std::vector<int>(static_cast<size_t>(B) * T, pad_id),
                              std::vector<int>(B, 0),
                              std::vector<int>(B, -1),
                              0};
    for (int b = 0; b < B && first + b < texts.size(); ++b) {
      const EncodedText& e = texts[first + b];
      const int n = static_cast<int>(e.tokens.size());
      GPT2_CHECK(n >= 1 && n <= T, "make_classification_batches: a text of ", n,
                 " tokens in rows of T = ", T);
      std::copy(e.tokens.begin(), e.tokens.end(), batch.tokens.begin() + static_cast<std::ptrdiff_t>(b) * T);
      batch.last[b] = n - 1;
      batch.labels[b] = e.label;
      ++batch.num_examples;
    }
    batches.push_back(std::move(batch));
  }
  return batches;
}

}  // namespace gpt2
