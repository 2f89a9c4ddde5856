// Exercises 05 (student version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 05
// (exercises/05_gpt2_model/README.md has the tasks, exercise.h the contracts).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void cross_entropy_backward_row(float* dlogits, const float* logits, int target, float dloss, int V) {
  // TODO(05.1): dlogits (V) += dloss * d(-log softmax(logits)[target]) / d logits.
  // The gradient is derived in chapter 05 ("Softmax and cross-entropy, fused"); keep every exp
  // finite for logits near 1000.
  (void)dlogits, (void)logits, (void)target, (void)dloss, (void)V;
  throw gpt2::Error("exercise 05.1 cross_entropy_backward_row: not implemented yet");
}

int64_t count_parameters(int n_layer, int n_embd, int n_positions, int vocab_size) {
  // TODO(05.2): the number of floats in every tensor of the Hugging Face layout (chapter 05's
  // table of names), summed. GPT-2 xl has more than 2^31 parameters.
  (void)n_layer, (void)n_embd, (void)n_positions, (void)vocab_size;
  throw gpt2::Error("exercise 05.2 count_parameters: not implemented yet");
}

void tied_embedding_backward(float* dwte, const float* dlogits, const float* lnf, const float* dx0,
                             const int* tokens, int BT, int C, int V) {
  // TODO(05.3): add both uses of wte into dwte (V, C):
  //   the head, logits (BT, V) = lnf (BT, C) @ wte^T, seen from wte;
  //   the embedding, x0[i] = wte[tokens[i]] + ..., seen from wte.
  // Chapter 05, "Weight tying", has the sum of the two.
  (void)dwte, (void)dlogits, (void)lnf, (void)dx0, (void)tokens, (void)BT, (void)C, (void)V;
  throw gpt2::Error("exercise 05.3 tied_embedding_backward: not implemented yet");
}

void model_backward(const Weights<float>& grads, const Weights<const float>& w, const ForwardState& s,
                    const TinyConfig& cfg) {
  // TODO(05.4): run model_forward (exercise.h) in reverse, from the loss back to the embedding,
  // adding into every gradient of `grads`. Every op you need has a backward in chapters 02, 04
  // and 05 (or use yours from 05.1); each of them ADDS into its outputs. Shapes: N = s.B * s.T
  // rows, C channels, V logits per row.
  (void)grads, (void)w, (void)s, (void)cfg;
  throw gpt2::Error("exercise 05.4 model_backward: not implemented yet");
}

}  // namespace exercise
