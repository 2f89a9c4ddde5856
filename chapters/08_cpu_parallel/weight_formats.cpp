// The weight formats and their plain products: see weight_formats.h.
#include "chapters/08_cpu_parallel/weight_formats.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/safetensors.h"  // bf16_to_float, float_to_bf16

namespace gpt2 {

const char* weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::bf16:
      return "bf16";
    case WeightFormat::q8:
      return "q8";
    case WeightFormat::f32:
      break;
  }
  return "f32";
}

WeightFormat parse_weight_format(std::string_view name, std::string_view what) {
  if (name == "f32") return WeightFormat::f32;
  if (name == "bf16") return WeightFormat::bf16;
  if (name == "q8") return WeightFormat::q8;
  fail(what, ": unknown weight format '", name, "' (expected f32, bf16 or q8)");
}

const char* q8_activations_name(Q8Activations activations) {
  return activations == Q8Activations::q8 ? "q8" : "f32";
}

// =============================================================================================
// The formats
// =============================================================================================

float quantize_q8_block(const float* x, int n, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < n; ++j) {
    const float a = std::fabs(x[j]);
    if (!(a <= amax)) amax = a;  // (a NaN is kept, and caught below)
  }
  const float s = amax / 127.0f;
  if (!std::isfinite(s)) {
    // A NaN or an infinity: no scale can represent it. The block's products become NaN, as the
    // float product would.
    std::fill(q, q + kQ8Block, int8_t{0});
    return NAN;
  }
  const float inv = s > 0.0f ? 1.0f / s : 0.0f;
  // Round to the nearest integer, ties to even, by adding and subtracting 1.5 * 2^23: the sum's
  // last bit is the units, so the float addition itself rounds (for |v| < 2^22). The same as
  // std::lrint, without a library call per value, and the loop vectorises.
  constexpr float kRound = 12582912.0f;
  for (int j = 0; j < n; ++j) {
    // |x_j| / s <= 127 up to the rounding of inv, so the nearest integer is in [-127, 127].
    const float v = std::clamp(x[j] * inv, -127.0f, 127.0f);
    q[j] = static_cast<int8_t>((v + kRound) - kRound);
  }
  std::fill(q + n, q + kQ8Block, int8_t{0});
  return s;
}

Bf16Matrix to_bf16(const FloatWeights& w) {
  Bf16Matrix m{w.rows, w.cols, LargeVector<uint16_t>(static_cast<size_t>(w.rows) * w.cols)};
#pragma omp parallel for schedule(static)
  for (int r = 0; r < w.rows; ++r) {
    uint16_t* row = m.values.data() + static_cast<size_t>(r) * w.cols;
    for (int c = 0; c < w.cols; ++c) row[c] = float_to_bf16(w.at(r, c));
  }
  return m;
}

Q8Matrix to_q8(const FloatWeights& w) {
  Q8Matrix m;
  m.rows = w.rows;
  m.cols = w.cols;
  const int nb = m.blocks();
  m.q.assign(static_cast<size_t>(w.rows) * nb * kQ8Block, 0);
  m.scales.assign(static_cast<size_t>(w.rows) * nb, 0.0f);
#pragma omp parallel for schedule(static)
  for (int r = 0; r < w.rows; ++r) {
    float block[kQ8Block];
    for (int b = 0; b < nb; ++b) {
      const int c0 = b * kQ8Block, n = std::min(kQ8Block, w.cols - c0);
      for (int j = 0; j < n; ++j) block[j] = w.at(r, c0 + j);
      m.scales[static_cast<size_t>(r) * nb + b] =
          quantize_q8_block(block, n, m.q.data() + (static_cast<size_t>(r) * nb + b) * kQ8Block);
    }
  }
  return m;
}

namespace {
// Where weight (r, c) of a rows x cols matrix goes in a float buffer of the given layout.
size_t float_index(int r, int c, int rows, int cols, bool conv1d) {
  return conv1d ? static_cast<size_t>(c) * rows + r : static_cast<size_t>(r) * cols + c;
}
}  // namespace

void from_bf16(const Bf16Matrix& m, float* data, bool conv1d) {
  for (int r = 0; r < m.rows; ++r) {
    for (int c = 0; c < m.cols; ++c)
      data[float_index(r, c, m.rows, m.cols, conv1d)] = bf16_to_float(m.row(r)[c]);
  }
}

void from_q8(const Q8Matrix& m, float* data, bool conv1d) {
  for (int r = 0; r < m.rows; ++r) {
    const int8_t* q = m.row(r);
    const float* s = m.row_scales(r);
    for (int c = 0; c < m.cols; ++c) {
      data[float_index(r, c, m.rows, m.cols, conv1d)] = s[c / kQ8Block] * static_cast<float>(q[c]);
    }
  }
}

// =============================================================================================
// The products, plain loops
// =============================================================================================

void matmul_bf16(float* out, const float* inp, const Bf16Matrix& W, const float* bias, int N) {
  const int K = W.cols;
  for (int n = 0; n < N; ++n) {
    const float* x = inp + static_cast<size_t>(n) * K;
    for (int r = 0; r < W.rows; ++r) {
      const uint16_t* w = W.row(r);
      float sum = 0.0f;
      for (int c = 0; c < K; ++c) sum += bf16_to_float(w[c]) * x[c];
      out[static_cast<size_t>(n) * W.rows + r] = (bias ? bias[r] : 0.0f) + sum;
    }
  }
}

void matmul_q8(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N) {
  const int K = W.cols, nb = W.blocks();
  for (int n = 0; n < N; ++n) {
    const float* x = inp + static_cast<size_t>(n) * K;
    for (int r = 0; r < W.rows; ++r) {
      const int8_t* q = W.row(r);
      const float* s = W.row_scales(r);
      float sum = 0.0f;
      for (int b = 0; b < nb; ++b) {
        // One block: its 32 int8 weights times the activations, then the block's scale.
        float block = 0.0f;
        for (int c = b * kQ8Block; c < std::min(K, (b + 1) * kQ8Block); ++c) {
          block += static_cast<float>(q[c]) * x[c];
        }
        sum += s[b] * block;
      }
      out[static_cast<size_t>(n) * W.rows + r] = (bias ? bias[r] : 0.0f) + sum;
    }
  }
}

void quantize_q8_row(const float* x, int cols, int8_t* q, float* scales) {
  const int nb = (cols + kQ8Block - 1) / kQ8Block;
  for (int b = 0; b < nb; ++b) {
    const int c0 = b * kQ8Block;
    scales[b] = quantize_q8_block(x + c0, std::min(kQ8Block, cols - c0), q + c0);
  }
}

void matmul_q8q8(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N) {
  const int K = W.cols, nb = W.blocks();
  std::vector<int8_t> xq(static_cast<size_t>(nb) * kQ8Block);
  std::vector<float> xs(static_cast<size_t>(nb));
  for (int n = 0; n < N; ++n) {
    quantize_q8_row(inp + static_cast<size_t>(n) * K, K, xq.data(), xs.data());
    for (int r = 0; r < W.rows; ++r) {
      const int8_t* q = W.row(r);
      const float* s = W.row_scales(r);
      float sum = 0.0f;
      for (int b = 0; b < nb; ++b) {
        // One block: 32 products of int8 numbers, at most 127^2 each, summed exactly in int32.
        int32_t dot = 0;
        for (int j = b * kQ8Block; j < (b + 1) * kQ8Block; ++j) dot += int32_t{q[j]} * int32_t{xq[j]};
        sum += (s[b] * xs[b]) * static_cast<float>(dot);
      }
      out[static_cast<size_t>(n) * W.rows + r] = (bias ? bias[r] : 0.0f) + sum;
    }
  }
}

}  // namespace gpt2
