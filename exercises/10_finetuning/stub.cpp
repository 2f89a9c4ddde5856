// Exercises 10 (student version): replace each `throw` with your code, then run
//   ctest --test-dir build-student -L student -R 10_finetuning --output-on-failure
// (see exercises/10_finetuning/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

float sft_loss(float* dlogits, const float* logits, const int* tokens, const uint8_t* assistant, int B, int T,
               int V) {
  // TODO(10.1): first count the positions with a target (row b, t < T - 1, assistant[b, t + 1]).
  // For each of them, with z = logits[b, t] and y = tokens[b, t + 1]: subtract the row's maximum m,
  // loss = (m - z_y) + log sum_v exp(z_v - m), and dlogits[b, t, v] += (p_v - [v == y]) / count.
  // Return the mean loss (0 when there are no targets).
  (void)dlogits;
  (void)logits;
  (void)tokens;
  (void)assistant;
  (void)B;
  (void)T;
  (void)V;
  throw gpt2::Error("exercise 10.1 sft_loss: not implemented yet");
}

void lora_forward(float* out, float* u, const float* x, const float* A, const float* B, float scale, int N,
                  int C, int OC, int r) {
  // TODO(10.2a): u[n, j] = sum_c x[n, c] A[j, c]; out[n, o] += scale * sum_j u[n, j] B[o, j].
  (void)out;
  (void)u;
  (void)x;
  (void)A;
  (void)B;
  (void)scale;
  (void)N;
  (void)C;
  (void)OC;
  (void)r;
  throw gpt2::Error("exercise 10.2a lora_forward: not implemented yet");
}

void lora_backward(float* dx, float* dA, float* dB, const float* dout, const float* x, const float* u,
                   const float* A, const float* B, float scale, int N, int C, int OC, int r) {
  // TODO(10.2b): with du[n, j] = scale * sum_o dout[n, o] B[o, j]:
  // dB[o, j] += scale * sum_n dout[n, o] u[n, j]; dA[j, c] += sum_n du[n, j] x[n, c];
  // dx[n, c] += sum_j du[n, j] A[j, c]. (See the chapter's derivation.)
  (void)dx;
  (void)dA;
  (void)dB;
  (void)dout;
  (void)x;
  (void)u;
  (void)A;
  (void)B;
  (void)scale;
  (void)N;
  (void)C;
  (void)OC;
  (void)r;
  throw gpt2::Error("exercise 10.2b lora_backward: not implemented yet");
}

void lora_merge(float* W, const float* A, const float* B, float scale, int C, int OC, int r) {
  // TODO(10.3): W[c, o] += scale * sum_j B[o, j] A[j, c]. Mind which index of W is which.
  (void)W;
  (void)A;
  (void)B;
  (void)scale;
  (void)C;
  (void)OC;
  (void)r;
  throw gpt2::Error("exercise 10.3 lora_merge: not implemented yet");
}

EncodedTurn encode_turn(const gpt2::Tokenizer& tok, const std::string& instruction, const std::string& input,
                        const std::string& output) {
  // TODO(10.4): encode "### Instruction:\n", the instruction, (if input is not empty)
  // "\n\n### Input:\n" and the input, then "\n\n### Response:\n", each with tok.encode (ordinary
  // text), all with mask 0; then the output's tokens and tok.eot_id() with mask 1.
  (void)tok;
  (void)instruction;
  (void)input;
  (void)output;
  throw gpt2::Error("exercise 10.4 encode_turn: not implemented yet");
}

}  // namespace exercise
