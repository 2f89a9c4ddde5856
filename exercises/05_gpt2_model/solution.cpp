// Exercises 05 (solution): the answers are what chapter 05's code does.
#include "chapters/02_embeddings/embedding.h"
#include "chapters/05_gpt2_model/config.h"
#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/05_gpt2_model/lm_head.h"
#include "chapters/05_gpt2_model/parameters.h"
#include "exercise.h"

namespace exercise {

void cross_entropy_backward_row(float* dlogits, const float* logits, int target, float dloss, int V) {
  float loss, lse;
  gpt2::cross_entropy_forward(&loss, &lse, logits, &target, 1, V);
  gpt2::cross_entropy_backward(dlogits, logits, &lse, &target, dloss, 1, V);
}

int64_t count_parameters(int n_layer, int n_embd, int n_positions, int vocab_size) {
  gpt2::GPT2Config c;
  c.n_layer = n_layer;
  c.n_head = 1;
  c.n_embd = n_embd;
  c.n_positions = n_positions;
  c.vocab_size = vocab_size;
  return gpt2::count_parameters(c);
}

void tied_embedding_backward(float* dwte, const float* dlogits, const float* lnf, const float* dx0,
                             const int* tokens, int BT, int C, int V) {
  // The wte argument of lm_head_backward is only needed for dx, which we do not want here.
  gpt2::lm_head_backward<float>(nullptr, dwte, dlogits, lnf, nullptr, BT, C, V);
  gpt2::encoder_backward<float>(dwte, nullptr, dx0, tokens, 1, BT, C);
}

}  // namespace exercise
