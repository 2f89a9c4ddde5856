// Exercises 10 (solution). Written for the exercises; the chapter's own versions are in
// masked_loss.h, lora.h and chat_template.cpp.
#include <cmath>
#include <vector>

#include "common/error.h"
#include "exercise.h"

namespace exercise {

float sft_loss(float* dlogits, const float* logits, const int* tokens, const uint8_t* assistant, int B, int T,
               int V) {
  // Which positions count: t predicts t + 1, which must be an assistant token of the same row.
  auto has_target = [&](int b, int t) { return t + 1 < T && assistant[b * T + t + 1] != 0; };
  int count = 0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) count += has_target(b, t) ? 1 : 0;
  if (count == 0) return 0.0f;

  double total = 0;
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      if (!has_target(b, t)) continue;
      const float* z = logits + (static_cast<size_t>(b) * T + t) * V;
      float* dz = dlogits + (static_cast<size_t>(b) * T + t) * V;
      const int y = tokens[b * T + t + 1];
      float m = z[0];
      for (int v = 1; v < V; ++v) m = z[v] > m ? z[v] : m;
      float sum = 0;
      for (int v = 0; v < V; ++v) sum += std::exp(z[v] - m);
      total += (m - z[y]) + std::log(sum);
      // d loss / d z_v = (p_v - [v == y]) / count: the mean over counted positions.
      for (int v = 0; v < V; ++v) dz[v] += std::exp(z[v] - m) / sum / static_cast<float>(count);
      dz[y] -= 1.0f / static_cast<float>(count);
    }
  }
  return static_cast<float>(total / count);
}

void lora_forward(float* out, float* u, const float* x, const float* A, const float* B, float scale, int N,
                  int C, int OC, int r) {
  for (int n = 0; n < N; ++n) {
    for (int j = 0; j < r; ++j) {  // u = x A^T: a row of A per rank
      float s = 0;
      for (int c = 0; c < C; ++c) s += x[n * C + c] * A[j * C + c];
      u[n * r + j] = s;
    }
    for (int o = 0; o < OC; ++o) {  // out += scale * u B^T: a row of B per output
      float s = 0;
      for (int j = 0; j < r; ++j) s += u[n * r + j] * B[o * r + j];
      out[n * OC + o] += scale * s;
    }
  }
}

void lora_backward(float* dx, float* dA, float* dB, const float* dout, const float* x, const float* u,
                   const float* A, const float* B, float scale, int N, int C, int OC, int r) {
  std::vector<float> du(r);
  for (int n = 0; n < N; ++n) {
    for (int j = 0; j < r; ++j) {
      float s = 0;
      for (int o = 0; o < OC; ++o) s += dout[n * OC + o] * B[o * r + j];
      du[j] = scale * s;  // the gradient reaching u
    }
    for (int o = 0; o < OC; ++o)
      for (int j = 0; j < r; ++j) dB[o * r + j] += scale * dout[n * OC + o] * u[n * r + j];
    for (int j = 0; j < r; ++j)
      for (int c = 0; c < C; ++c) {
        dA[j * C + c] += du[j] * x[n * C + c];
        dx[n * C + c] += du[j] * A[j * C + c];
      }
  }
}

void lora_merge(float* W, const float* A, const float* B, float scale, int C, int OC, int r) {
  // (B A) is (OC, C), like nn.Linear's weight; a Conv1D weight is (C, OC): add the transpose.
  for (int c = 0; c < C; ++c)
    for (int o = 0; o < OC; ++o) {
      float s = 0;
      for (int j = 0; j < r; ++j) s += B[o * r + j] * A[j * C + c];
      W[c * OC + o] += scale * s;
    }
}

EncodedTurn encode_turn(const gpt2::Tokenizer& tok, const std::string& instruction, const std::string& input,
                        const std::string& output) {
  GPT2_CHECK(tok.eot_id() >= 0, "encode_turn: the tokenizer has no <|endoftext|>");
  EncodedTurn e;
  auto add = [&](const std::string& text, uint8_t mask) {
    for (int id : tok.encode(text)) {  // ordinary text: "<|endoftext|>" typed by a user stays characters
      e.tokens.push_back(id);
      e.assistant.push_back(mask);
    }
  };
  add("### Instruction:\n", 0);
  add(instruction, 0);
  if (!input.empty()) {
    add("\n\n### Input:\n", 0);
    add(input, 0);
  }
  add("\n\n### Response:\n", 0);
  add(output, 1);
  e.tokens.push_back(tok.eot_id());
  e.assistant.push_back(1);  // the model must learn to stop
  return e;
}

}  // namespace exercise
