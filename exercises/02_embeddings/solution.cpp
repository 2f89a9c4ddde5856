// Exercises 02: one way to write each task (compare with yours after you have tried).
#include <cmath>
#include <cstddef>

#include "exercise.h"

namespace exercise {

void positional_encoding(float* out, int T, int C) {
  for (int t = 0; t < T; ++t) {
    float* row = out + static_cast<size_t>(t) * C;
    for (int c = 0; c < C; c += 2) {
      // Pair i = c / 2 turns at the frequency w_i = 10000^(-2i / C) = 10000^(-c / C).
      const double angle = t * std::pow(10000.0, -static_cast<double>(c) / C);
      row[c] = static_cast<float>(std::sin(angle));
      if (c + 1 < C) row[c + 1] = static_cast<float>(std::cos(angle));  // odd C: a lone sine
    }
  }
}

void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T, int C) {
  for (int b = 0; b < B; ++b) {
    for (int t = 0; t < T; ++t) {
      const float* g = dout + (static_cast<size_t>(b) * T + t) * C;
      float* token_row = dwte + static_cast<size_t>(tokens[b * T + t]) * C;
      float* position_row = dwpe + static_cast<size_t>(t) * C;
      for (int c = 0; c < C; ++c) {
        token_row[c] += g[c];  // a token used twice collects both gradients
        position_row[c] += g[c];
      }
    }
  }
}

void shift_position(double* out, const double* pe_t, int k, int C) {
  for (int c = 0; c < C; c += 2) {
    const double s = pe_t[c], co = pe_t[c + 1];                           // sin a, cos a with a = t w_i
    const double b = k * std::pow(10000.0, -static_cast<double>(c) / C);  // k w_i
    // sin(a + b) = sin a cos b + cos a sin b;  cos(a + b) = cos a cos b - sin a sin b:
    // a rotation of the pair by the angle k w_i, the same for every t.
    out[c] = s * std::cos(b) + co * std::sin(b);
    out[c + 1] = co * std::cos(b) - s * std::sin(b);
  }
}

}  // namespace exercise
