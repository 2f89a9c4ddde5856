#include "chapters/08_cpu_parallel/reduce.h"

#include <algorithm>
#include <vector>

#include "chapters/06_training/grad_clip.h"
#include "chapters/08_cpu_parallel/simd.h"

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

namespace {

#ifdef GPT2_X86
// The 8 whole chunks that start at x, into sums[0 .. 7]: 4 floats of each of 4 chunks are loaded and
// transposed, so that a register holds element i of 4 chunks; widened to double, squared (exactly: a float
// times a float has at most 48 significant bits, which a double holds, so an FMA rounds like the scalar add)
// and added, element i after element i - 1, to that chunk's lane.
GPT2_TARGET_AVX2 void sum_squares_8_chunks_avx2(const float* x, double* sums) {
  constexpr size_t K = kNormChunk;
  __m256d acc[2] = {_mm256_setzero_pd(), _mm256_setzero_pd()};
  for (size_t i = 0; i < K; i += 4) {
    for (int g = 0; g < 2; ++g) {
      const float* base = x + static_cast<size_t>(4 * g) * K + i;
      // Once per cache line of each chunk, ask for the line 2 KB ahead: the hardware prefetcher
      // alone keeps up poorly with 8 streams 256 KB apart (this made the loop 1.6 times faster).
      // A prefetch past the end of the buffer is harmless: it is a hint and never faults.
      if (i % 16 == 0) {
        for (int c = 0; c < 4; ++c)
          _mm_prefetch(reinterpret_cast<const char*>(base + c * K + 512), _MM_HINT_T0);
      }
      __m128 r0 = _mm_loadu_ps(base), r1 = _mm_loadu_ps(base + K);
      __m128 r2 = _mm_loadu_ps(base + 2 * K), r3 = _mm_loadu_ps(base + 3 * K);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);  // r_j = element i + j of the 4 chunks
      for (const __m128 r : {r0, r1, r2, r3}) {
        const __m256d d = _mm256_cvtps_pd(r);
        acc[g] = _mm256_fmadd_pd(d, d, acc[g]);
      }
    }
  }
  _mm256_storeu_pd(sums, acc[0]);
  _mm256_storeu_pd(sums + 4, acc[1]);
}
#endif

}  // namespace

void sum_squares_chunks_fast(const float* grad, size_t n, double* sums) {
  long long done = 0;  // whole chunks summed 8 at a time
#ifdef GPT2_X86
  if (active_simd() != Simd::portable) {
    const long long groups = static_cast<long long>(n / kNormChunk) / 8;  // of 8 whole chunks
#pragma omp parallel for schedule(static) if (groups > 1)
    for (long long g = 0; g < groups; ++g) sum_squares_8_chunks_avx2(grad + g * 8 * kNormChunk, sums + g * 8);
    done = groups * 8;
  }
#endif
  // The chunks left (fewer than 8 and a partial last one, or all of them on the portable set):
  // chapter 06's loop, which counts its chunks from the pointer it is given, chunk `done` here.
  const size_t begin = static_cast<size_t>(done) * kNormChunk;
  sum_squares_chunks(grad + begin, n - begin, sums + done);
}

}  // namespace gpt2
