// The fast attention over a KV cache: see attention_cached_fast.h.
#include "chapters/08_cpu_parallel/attention_cached_fast.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <vector>

#include "chapters/08_cpu_parallel/attention_fast.h"

namespace gpt2 {

void attention_forward_cached_fast(float* out, float* k_cache, float* v_cache, const float* qkv, int B, int T,
                                   int pos0, int maxT, int C, int NH) {
  const int HS = C / NH;
  // Append: row t of qkv holds q | k | v; head h's key is channels C + h HS .. of it.
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) {
      const float* row = qkv + (static_cast<size_t>(b) * T + t) * 3 * C;
      for (int h = 0; h < NH; ++h) {
        const size_t at = ((static_cast<size_t>(b) * NH + h) * maxT + pos0 + t) * HS;
        std::memcpy(k_cache + at, row + C + h * HS, sizeof(float) * HS);
        std::memcpy(v_cache + at, row + 2 * C + h * HS, sizeof(float) * HS);
      }
    }
  const int keys = pos0 + T;  // the most keys one query reads
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  // About 4 C flops per (query, key) pair: a decode step over a short text is too little work to
  // wake a second thread for.
  [[maybe_unused]] const long long work = static_cast<long long>(B) * T * keys * C;  // read by OpenMP
#pragma omp parallel if (work > 100000)
  {
    std::vector<float> p(static_cast<size_t>(keys));  // one row of scores, then of weights
#pragma omp for collapse(3) schedule(static)
    for (int b = 0; b < B; ++b)
      for (int t = 0; t < T; ++t)
        for (int h = 0; h < NH; ++h) {
          const float* q = qkv + (static_cast<size_t>(b) * T + t) * 3 * C + h * HS;
          const float* K = k_cache + (static_cast<size_t>(b) * NH + h) * maxT * HS;
          const float* V = v_cache + (static_cast<size_t>(b) * NH + h) * maxT * HS;
          const int n = pos0 + t + 1;  // keys 0 .. pos0 + t are visible
          attention_row_fast(out + (static_cast<size_t>(b) * T + t) * C + h * HS, p.data(), q, K, V, n, HS,
                             scale);
        }
  }
}

}  // namespace gpt2
