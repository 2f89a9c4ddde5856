// Exercises 05 (student version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 05
// (see exercises/05_gpt2_model/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

void cross_entropy_backward_row(float* dlogits, const float* logits, int target, float dloss, int V) {
  // TODO(05.1): m = max of the logits; p[v] = exp(logits[v] - m) / sum_u exp(logits[u] - m);
  // then dlogits[v] += dloss * (p[v] - (v == target ? 1 : 0)).
  (void)dlogits;
  (void)logits;
  (void)target;
  (void)dloss;
  (void)V;
  throw gpt2::Error("exercise 05.1 cross_entropy_backward_row: not implemented yet");
}

int64_t count_parameters(int n_layer, int n_embd, int n_positions, int vocab_size) {
  // TODO(05.2): the two embeddings, L blocks (two LayerNorms, c_attn, attn.c_proj, c_fc,
  // mlp.c_proj, each with its bias) and the final LayerNorm. Compute in int64_t.
  (void)n_layer;
  (void)n_embd;
  (void)n_positions;
  (void)vocab_size;
  throw gpt2::Error("exercise 05.2 count_parameters: not implemented yet");
}

void tied_embedding_backward(float* dwte, const float* dlogits, const float* lnf, const float* dx0,
                             const int* tokens, int BT, int C, int V) {
  // TODO(05.3): the head: dwte[v, c] += sum_i dlogits[i, v] * lnf[i, c];
  // the embedding: dwte[tokens[i], c] += dx0[i, c] for every position i.
  (void)dwte;
  (void)dlogits;
  (void)lnf;
  (void)dx0;
  (void)tokens;
  (void)BT;
  (void)C;
  (void)V;
  throw gpt2::Error("exercise 05.3 tied_embedding_backward: not implemented yet");
}

}  // namespace exercise
