/// @file positional_encoding.h
/// @brief The fixed sinusoidal positional encoding of "Attention Is All You Need" (Vaswani et al.).
///
/// GPT-2 *learns* its positional table (`wpe`, see embedding.h). The original Transformer used a
/// fixed table instead, with no parameters at all: channel pair (2i, 2i+1) of position t is a
/// sine and a cosine of the same angle, whose frequency falls geometrically with i:
///
///   PE[t, 2i]     = sin(t / 10000^(2i / C))
///   PE[t, 2i + 1] = cos(t / 10000^(2i / C))
///
/// The first pairs turn quickly (wavelength 2 pi positions), the last very slowly (wavelength
/// 10000 * 2 pi), so each position gets a distinct pattern, and PE[t + k] is a fixed rotation of
/// PE[t] in every pair, which makes relative offsets easy for attention to read.
///
/// PyTorch has no built-in; the tutorial code is
/// `div = torch.exp(torch.arange(0, C, 2) * (-math.log(10000.0) / C));
///  pe[:, 0::2] = torch.sin(pos * div); pe[:, 1::2] = torch.cos(pos * div)`.
#pragma once

#include <cmath>
#include <cstddef>

namespace gpt2 {

/// out (T, C): the sinusoidal table above, for positions 0..T-1. The angles are computed in
/// double precision (t / 10000^(2i/C) reaches T radians, where float's sin loses digits) and
/// rounded to F once. When C is odd the last channel is a sine whose cosine partner does not fit.
template <typename F>
void sinusoidal_positional_encoding(F* out, int T, int C) {
  for (int t = 0; t < T; ++t) {
    F* row = out + static_cast<size_t>(t) * C;
    for (int c = 0; c < C; c += 2) {
      // c = 2i: the pair's frequency is 1 / 10000^(2i / C) = 10000^(-c / C).
      const double angle = t * std::pow(10000.0, -static_cast<double>(c) / C);
      row[c] = static_cast<F>(std::sin(angle));
      if (c + 1 < C) row[c + 1] = static_cast<F>(std::cos(angle));
    }
  }
}

}  // namespace gpt2
