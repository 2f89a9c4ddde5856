// Exercises 07 (student version): replace each `throw` with your code, then build and run
//   ./build-student/bin/exercise_07_sampling
// (exercises/07_sampling/README.md has the tasks, exercise.h the contracts).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

std::vector<float> top_k_filter(const std::vector<float>& probs, int k) {
  // TODO(07.1): the k most probable tokens of probs (V), renormalised; all others 0
  // (chapter 07, "Top-k"). Ties: the lower index is the more probable.
  (void)probs, (void)k;
  throw gpt2::Error("exercise 07.1 top_k_filter: not implemented yet");
}

std::vector<float> top_p_filter(const std::vector<float>& probs, float p) {
  // TODO(07.2): the nucleus of probs (V): the smallest set of most probable tokens whose mass
  // reaches p, renormalised; all others 0 (chapter 07, "Top-p").
  (void)probs, (void)p;
  throw gpt2::Error("exercise 07.2 top_p_filter: not implemented yet");
}

size_t utf8_complete_prefix(std::string_view bytes) {
  // TODO(07.3): how many bytes may be printed without cutting the last character (chapter 07,
  // "Streaming UTF-8", has the table of lead and continuation bytes).
  (void)bytes;
  throw gpt2::Error("exercise 07.3 utf8_complete_prefix: not implemented yet");
}

void attention_decode_step(float* out, const LayerKVCache& cache, const float* qkv, int pos) {
  // TODO(07.4): append this token's k and v to the cache at position pos, then each head's
  // attention of q over positions 0 .. pos (chapter 07, "The KV cache"; chapter 03 for one
  // head's attention). out (C), qkv (3C), cache.k and cache.v (NH, maxT, HS).
  (void)out, (void)cache, (void)qkv, (void)pos;
  throw gpt2::Error("exercise 07.4 attention_decode_step: not implemented yet");
}

}  // namespace exercise
