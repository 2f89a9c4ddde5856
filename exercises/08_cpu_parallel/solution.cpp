// Exercises 08 (solution). Chapter 08 has the same ideas in matmul_steps.cpp, packed_step.cpp,
// microkernel.cpp and reduce.cpp.
#include <algorithm>
#include <cmath>
#include <vector>

#include "exercise.h"

namespace exercise {

void matmul_ikj(float* out, const float* a, const float* b, int M, int K, int N) {
  for (int i = 0; i < M; ++i) {
    float* row = out + static_cast<size_t>(i) * N;
    std::fill(row, row + N, 0.0f);
    for (int k = 0; k < K; ++k) {
      const float aik = a[static_cast<size_t>(i) * K + k];
      const float* bk = b + static_cast<size_t>(k) * N;   // row k of b: contiguous
      for (int j = 0; j < N; ++j) row[j] += aik * bk[j];  // row i of out: contiguous
    }
  }
}

void microkernel_6x16(int kc, const float* a, const float* b, float* c, int ldc) {
  float acc[6][16];  // with constant bounds the compiler keeps this tile in vector registers
  for (int r = 0; r < 6; ++r)
    for (int j = 0; j < 16; ++j) acc[r][j] = c[r * ldc + j];
  for (int k = 0; k < kc; ++k) {
    const float* ak = a + k * 6;   // column k of the a sliver: its 6 rows side by side
    const float* bk = b + k * 16;  // row k of the b sliver: its 16 columns side by side
    for (int r = 0; r < 6; ++r)
      for (int j = 0; j < 16; ++j) acc[r][j] += ak[r] * bk[j];  // one rank-1 update per k
  }
  for (int r = 0; r < 6; ++r)
    for (int j = 0; j < 16; ++j) c[r * ldc + j] = acc[r][j];
}

float sum_deterministic(const float* x, size_t n) {
  constexpr size_t kChunk = 4096;
  const size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<float> partial(chunks);
  // Who sums a chunk depends on the thread count; how it is summed does not.
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < chunks; ++c) {
    float s = 0.0f;
    for (size_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) s += x[i];
    partial[c] = s;
  }
  float total = 0.0f;
  for (float s : partial) total += s;  // chunk order, on one thread
  return total;
}

void matmul_packed(float* out, const float* a, const float* b, int M, int K, int N) {
  // Pack a into slivers of 6 rows (a_packed[s][k][r]) and b into slivers of 16 columns
  // (b_packed[s][k][j]); rows and columns past the edge stay 0, so every tile is a full 6 x 16.
  const int a_slivers = (M + 5) / 6, b_slivers = (N + 15) / 16;
  std::vector<float> a_packed(static_cast<size_t>(a_slivers) * K * 6, 0.0f);
  std::vector<float> b_packed(static_cast<size_t>(b_slivers) * K * 16, 0.0f);
  for (int i = 0; i < M; ++i)
    for (int k = 0; k < K; ++k)
      a_packed[(static_cast<size_t>(i / 6) * K + k) * 6 + i % 6] = a[static_cast<size_t>(i) * K + k];
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < N; ++j)
      b_packed[(static_cast<size_t>(j / 16) * K + k) * 16 + j % 16] = b[static_cast<size_t>(k) * N + j];

  for (int sb = 0; sb < b_slivers; ++sb) {
    for (int sa = 0; sa < a_slivers; ++sa) {
      float tile[6 * 16] = {};  // the kernel adds, so start from 0
      microkernel_6x16(K, a_packed.data() + static_cast<size_t>(sa) * K * 6,
                       b_packed.data() + static_cast<size_t>(sb) * K * 16, tile, 16);
      // Copy the part of the tile that lies inside out (edge tiles are cut).
      for (int r = 0; r < 6 && sa * 6 + r < M; ++r)
        for (int j = 0; j < 16 && sb * 16 + j < N; ++j)
          out[static_cast<size_t>(sa * 6 + r) * N + sb * 16 + j] = tile[r * 16 + j];
    }
  }
}

float quantize_block_q8(const float* x, int8_t* q) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float s = amax / 127.0f;
  for (int j = 0; j < 32; ++j) {
    // x_j / s lies in [-127, 127]; the nearest integer moves it by at most 1/2, so s q_j is within
    // s / 2 of x_j. A zero block has s = 0: no division by it.
    q[j] = s > 0.0f ? static_cast<int8_t>(std::lround(x[j] / s)) : int8_t{0};
  }
  return s;
}

float dot_q8q8(const int8_t* q, const float* s, const int8_t* u, const float* t, int blocks) {
  float sum = 0.0f;
  for (int b = 0; b < blocks; ++b) {
    // 32 products of at most 127 * 127 each: at most 516,128, exact in int32 (and in float too,
    // being below 2^24, so one conversion per block loses nothing).
    int32_t block = 0;
    for (int j = b * 32; j < (b + 1) * 32; ++j) block += int32_t{q[j]} * int32_t{u[j]};
    sum += s[b] * t[b] * static_cast<float>(block);
  }
  return sum;
}

void matvec_tiled(float* y, const float* x, const float* tiled, const float* b, int C, int OC) {
  for (int o = 0; o < OC; ++o) y[o] = b[o];
  for (int c0 = 0; c0 < C; c0 += 64) {
    const int rows = std::min(64, C - c0);
    const float* chunk = tiled + static_cast<size_t>(c0) * OC;
    for (int o0 = 0; o0 < OC; o0 += 64) {
      // One tile: rows x width floats, contiguous. Its width sums would live in registers.
      const int width = std::min(64, OC - o0);
      const float* tile = chunk + static_cast<size_t>(o0) * rows;
      float sums[64] = {};
      for (int r = 0; r < rows; ++r) {
        for (int j = 0; j < width; ++j) sums[j] += x[c0 + r] * tile[r * width + j];
      }
      for (int j = 0; j < width; ++j) y[o0 + j] += sums[j];
    }
  }
}

}  // namespace exercise
