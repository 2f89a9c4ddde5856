// Matrix-vector products for the decode step: see matvec.h for why they look like this.
#include "chapters/08_cpu_parallel/matvec.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace gpt2 {

// Matrices smaller than this many floats (256 KB) are done by the calling thread: waking the
// other threads costs more than they would save (the attention over the cache calls these for
// every head, with small matrices).
constexpr long long kParallelMin = 1 << 16;

void matvec_conv1d(float* y, const float* x, const float* W, const float* b, int C, int OC) {
  constexpr int kRows = 64;  // rows of W per chunk: fixed, so the sums do not depend on the threads
  const int chunks = (C + kRows - 1) / kRows;
  // Partial sums (chunks, OC), one buffer per calling thread, grown on demand.
  thread_local std::vector<float> buffer;
  const size_t need = static_cast<size_t>(chunks) * OC;
  if (buffer.size() < need) buffer.resize(need);
  float* partial = buffer.data();

#pragma omp parallel for schedule(static) if (static_cast <long long>(C) * OC >= kParallelMin)
  for (int ch = 0; ch < chunks; ++ch) {
    float* p = partial + static_cast<size_t>(ch) * OC;
    std::fill(p, p + OC, 0.0f);
    const int c_end = std::min(C, (ch + 1) * kRows);
    for (int c = ch * kRows; c < c_end; ++c) {
      const float xc = x[c];
      const float* w = W + static_cast<size_t>(c) * OC;  // row c of W: OC contiguous floats
#pragma omp simd
      for (int o = 0; o < OC; ++o) p[o] += xc * w[o];
    }
  }
  // y = b + the partial sums, added in chunk order whatever the thread count.
#pragma omp parallel for schedule(static) if (static_cast <long long>(chunks) * OC > 100000)
  for (int o = 0; o < OC; ++o) {
    float s = b ? b[o] : 0.0f;
    for (int ch = 0; ch < chunks; ++ch) s += partial[static_cast<size_t>(ch) * OC + o];
    y[o] = s;
  }
}

void matvec_rows(float* y, const float* W, const float* x, int N, int C) {
#pragma omp parallel for schedule(static) if (static_cast <long long>(N) * C >= kParallelMin)
  for (int n = 0; n < N; ++n) {
    const float* w = W + static_cast<size_t>(n) * C;
    // Eight running sums, element c going to sum c % 8: the compiler keeps them in one SIMD
    // register (or two) without changing the order of any addition.
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8) {
      for (int j = 0; j < 8; ++j) acc[j] += w[c + j] * x[c + j];
    }
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; c < C; ++c) s += w[c] * x[c];
    y[n] = s;
  }
}

}  // namespace gpt2
