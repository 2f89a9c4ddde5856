#include "chapters/08_cpu_parallel/reduce.h"

#include <algorithm>
#include <vector>

namespace gpt2 {

float sum_deterministic(const float* x, size_t n) {
  const long long chunks = static_cast<long long>((n + kSumChunk - 1) / kSumChunk);
  std::vector<float> partial(chunks);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (long long c = 0; c < chunks; ++c) {
    const size_t i0 = static_cast<size_t>(c) * kSumChunk, i1 = std::min(n, i0 + kSumChunk);
    float s = 0.0f;
    for (size_t i = i0; i < i1; ++i) s += x[i];
    partial[c] = s;
  }
  float total = 0.0f;
  for (float s : partial) total += s;  // in chunk order, on one thread
  return total;
}

}  // namespace gpt2
