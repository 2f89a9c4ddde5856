/// @file embedding.h
/// @brief GPT-2's input layer: token embedding plus learned positional embedding.
///
/// GPT-2 turns each token id into a vector of C numbers by looking up a row of the token
/// embedding table `wte` (V rows, one per vocabulary entry), and adds a row of the positional
/// embedding table `wpe` (one row per position 0 .. maxT-1), so the same token at two positions
/// gives two different vectors:
///
///   out[b, t, :] = wte[tokens[b, t], :] + wpe[t, :]
///
/// PyTorch (Hugging Face's GPT2Model): `inputs_embeds = wte(input_ids); position_embeds =
/// wpe(position_ids); hidden = inputs_embeds + position_embeds`, with nn.Embedding tables.
///
/// Backward: the forward only copies rows, so the gradient of each used row is the gradient of
/// the output it was copied into. A token that appears several times in the batch receives the
/// *sum* of the gradients of all its occurrences, and position t receives the sum over the batch:
///
///   dwte[tokens[b, t], :] += dout[b, t, :]        dwpe[t, :] += dout[b, t, :]
///
/// Rows of wte that were not used get no gradient at all (that is why the embedding backward is
/// a scatter-add, not a matrix product).
#pragma once

#include <cstddef>

#include "common/error.h"

namespace gpt2 {

/// Throws gpt2::Error unless every one of the n token ids is in [0, V). Call it at the boundary
/// (ids from a file or a user); encoder_forward itself trusts its input.
inline void check_tokens(const int* tokens, size_t n, int V, const char* what = "tokens") {
  for (size_t i = 0; i < n; ++i) {
    GPT2_CHECK(tokens[i] >= 0 && tokens[i] < V, what, ": token id ", tokens[i], " at index ", i,
               " is outside the vocabulary [0, ", V, ")");
  }
}

/// out (B, T, C) = wte[tokens] (B, T, C) + wpe[0:T] (T, C), broadcast over the batch.
///
/// - `out`    (B, T, C) the embedded sequence
/// - `tokens` (B, T) token ids, each in [0, V)
/// - `wte`    (V, C) token embedding table ("wte.weight")
/// - `wpe`    (maxT, C) positional embedding table ("wpe.weight"); T <= maxT rows are read
///
/// PyTorch: `wte[tokens] + wpe[torch.arange(T)]`.
template <typename F>
void encoder_forward(F* out, const int* tokens, const F* wte, const F* wpe, int B, int T, int C) {
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const size_t bt = static_cast<size_t>(b) * T + t;
      F* o = out + bt * C;
      const F* tok_row = wte + static_cast<size_t>(tokens[bt]) * C;  // the token's row
      const F* pos_row = wpe + static_cast<size_t>(t) * C;           // the position's row
      for (int c = 0; c < C; ++c) o[c] = tok_row[c] + pos_row[c];
    }
  }
}

/// Accumulates the gradients of encoder_forward: a scatter-add of dout (B, T, C) into the rows of
/// dwte (V, C) named by tokens (B, T), and a sum over the batch into dwpe (maxT, C) rows 0..T-1.
/// Either gradient pointer may be null when it is not wanted.
///
/// PyTorch: what autograd does for nn.Embedding (an index_add_ of the output gradient).
template <typename F>
void encoder_backward(F* dwte, F* dwpe, const F* dout, const int* tokens, int B, int T, int C) {
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const size_t bt = static_cast<size_t>(b) * T + t;
      const F* d = dout + bt * C;
      if (dwte) {
        F* dtok = dwte + static_cast<size_t>(tokens[bt]) * C;
        for (int c = 0; c < C; ++c) dtok[c] += d[c];  // += : repeated tokens add up
      }
      if (dwpe) {
        F* dpos = dwpe + static_cast<size_t>(t) * C;
        for (int c = 0; c < C; ++c) dpos[c] += d[c];  // += : every sequence of the batch adds
      }
    }
  }
}

}  // namespace gpt2
