// Exercises 02 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_02_embeddings
// (see exercises/02_embeddings/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void positional_encoding(float* out, int T, int C) {
  // TODO(02.1): for each position t and each even channel c = 2i, compute the angle
  // t * 10000^(-c / C) in double precision (std::pow, std::sin, std::cos from <cmath>), write its
  // sine to channel c and its cosine to channel c + 1 (if c + 1 < C). Row t starts at out + t * C.
  (void)out;
  (void)T;
  (void)C;
  throw gpt2::Error("exercise 02.1 positional_encoding: not implemented yet");
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T, int C) {
  // TODO(02.2): for every (b, t), the C numbers dout[(b T + t) C + c] go to two places:
  // ADD them to row tokens[b T + t] of dwte and to row t of dwpe. (+=, not =: a token that occurs
  // twice collects both gradients, and the caller may have gradients there already.)
  (void)dwte;
  (void)dwpe;
  (void)dout;
  (void)tokens;
  (void)B;
  (void)T;
  (void)C;
  throw gpt2::Error("exercise 02.2 embedding_backward: not implemented yet");
}

}  // namespace exercise
