// Exercises 07 (student version): replace each `throw` with your code, then run
//   ./build-student/bin/exercise_07_sampling
// (see exercises/07_sampling/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

std::vector<float> top_k_filter(const std::vector<float>& probs, int k) {
  // TODO(07.1): return probs unchanged if k <= 0 or k >= probs.size(). Otherwise sort the indices
  // by probability, largest first (std::sort with a comparator; on ties the lower index first),
  // keep the first k, zero the rest, and divide the kept ones by their sum.
  (void)probs;
  (void)k;
  throw gpt2::Error("exercise 07.1 top_k_filter: not implemented yet");
}

std::vector<float> top_p_filter(const std::vector<float>& probs, float p) {
  // TODO(07.2): return probs unchanged if p >= 1. Otherwise sort the indices by probability,
  // largest first, add probabilities up in that order and stop after the one that makes the sum
  // reach p. Zero the others and divide the kept ones by their sum.
  (void)probs;
  (void)p;
  throw gpt2::Error("exercise 07.2 top_p_filter: not implemented yet");
}

size_t utf8_complete_prefix(std::string_view bytes) {
  // TODO(07.3): walk back from the end over at most three continuation bytes (10xxxxxx) to the
  // byte that starts the last character. If it is a lead byte (110xxxxx: 2 bytes, 1110xxxx: 3,
  // 11110xxx: 4) announcing more bytes than follow it, return its position; else bytes.size().
  (void)bytes;
  throw gpt2::Error("exercise 07.3 utf8_complete_prefix: not implemented yet");
}

}  // namespace exercise
