// Exercises 02 (solution): the answers are the chapter's own functions.
#include "chapters/02_embeddings/embedding.h"
#include "chapters/02_embeddings/positional_encoding.h"
#include "exercise.h"

namespace exercise {

void positional_encoding(float* out, int T, int C) {
  gpt2::sinusoidal_positional_encoding(out, T, C);
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T, int C) {
  gpt2::encoder_backward(dwte, dwpe, dout, tokens, B, T, C);
}

}  // namespace exercise
