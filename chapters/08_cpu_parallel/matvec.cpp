// Matrix-vector products for the decode step: see matvec.h for why they look like this.
#include "chapters/08_cpu_parallel/matvec.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "chapters/08_cpu_parallel/simd.h"

namespace gpt2 {

// Matrices smaller than this many floats (256 KB) are done by the calling thread: waking the
// other threads costs more than they would save (the attention over the cache calls these for
// every head, with small matrices).
[[maybe_unused]] constexpr long long kParallelMin = 1 << 16;  // read only by OpenMP pragmas

namespace {

// ---- One chunk of matvec_conv1d: p (OC) = sum over rows c of chunk of x[c] W[c, :], the rows added
// one after the other, each a multiply then an add (two roundings, no FMA: this file is compiled
// with -ffp-contract=off), so every kernel set gives the portable loop's bits. The vector versions
// do the portable loop's passes, one row of W over the whole of p, four registers of p at a time
// (four independent additions in flight; with two, the AVX-512 pass read 10-20% slower on the
// AMD EPYC Zen 4 of the chapter's tables). The rows of a chunk are contiguous, so the chunk is one
// stream of 64 OC floats, read in the order it is stored: the pattern the hardware prefetcher
// follows best. (Adding four rows per pass reads p a quarter as often, but reads W as four streams
// OC floats apart: on that Zen 4 it ran at 50-75% of one core's read bandwidth, one row per pass
// at 74-100%.) p, at most 3,072 floats, stays in L1 for the 64 passes.

void conv1d_chunk_portable(float* p, const float* x, const float* W, int c0, int c1, int OC) {
  for (int c = c0; c < c1; ++c) {
    const float xc = x[c];
    const float* w = W + static_cast<size_t>(c) * OC;  // row c of W: OC contiguous floats
#pragma omp simd
    for (int o = 0; o < OC; ++o) p[o] += xc * w[o];
  }
}

#ifdef GPT2_X86
GPT2_TARGET_AVX2 void conv1d_chunk_avx2(float* p, const float* x, const float* W, int c0, int c1, int OC) {
  for (int c = c0; c < c1; ++c) {
    const float* w = W + static_cast<size_t>(c) * OC;
    const __m256 xc = _mm256_set1_ps(x[c]);
    auto step = [&](int o) GPT2_TARGET_AVX2 {  // p[o .. o+7] += x[c] w[o .. o+7]
      _mm256_storeu_ps(p + o,
                       _mm256_add_ps(_mm256_loadu_ps(p + o), _mm256_mul_ps(xc, _mm256_loadu_ps(w + o))));
    };
    int o = 0;
    for (; o + 32 <= OC; o += 32) {  // four registers of p per step: four independent additions
      step(o);
      step(o + 8);
      step(o + 16);
      step(o + 24);
    }
    for (; o + 8 <= OC; o += 8) step(o);
    for (; o < OC; ++o) p[o] += x[c] * w[o];
  }
}

GPT2_TARGET_AVX512 void conv1d_chunk_avx512(float* p, const float* x, const float* W, int c0, int c1,
                                            int OC) {
  for (int c = c0; c < c1; ++c) {
    const float* w = W + static_cast<size_t>(c) * OC;
    const __m512 xc = _mm512_set1_ps(x[c]);
    auto step = [&](int o) GPT2_TARGET_AVX512 {  // p[o .. o+15] += x[c] w[o .. o+15]
      _mm512_storeu_ps(p + o,
                       _mm512_add_ps(_mm512_loadu_ps(p + o), _mm512_mul_ps(xc, _mm512_loadu_ps(w + o))));
    };
    int o = 0;
    for (; o + 64 <= OC; o += 64) {
      step(o);
      step(o + 16);
      step(o + 32);
      step(o + 48);
    }
    for (; o + 16 <= OC; o += 16) step(o);
    if (o < OC) {  // the last OC mod 16 columns, masked
      const __mmask16 m = first_lanes(OC - o);
      const __m512 v =
          _mm512_add_ps(_mm512_maskz_loadu_ps(m, p + o), _mm512_mul_ps(xc, _mm512_maskz_loadu_ps(m, w + o)));
      _mm512_mask_storeu_ps(p + o, m, v);
    }
  }
}
#endif

void conv1d_chunk(float* p, const float* x, const float* W, int c0, int c1, int OC, Simd simd) {
#ifdef GPT2_X86
  if (simd == Simd::avx512) return conv1d_chunk_avx512(p, x, W, c0, c1, OC);
  if (simd == Simd::avx2_fma) return conv1d_chunk_avx2(p, x, W, c0, c1, OC);
#endif
  (void)simd;
  conv1d_chunk_portable(p, x, W, c0, c1, OC);
}

// ---- matvec_rows: each dot product in eight interleaved partial sums (element c going to sum
// c % 8), combined as ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)), then the last C mod 8 elements.
// The eight sums are the lanes of one AVX2 register, so the vector version adds the same numbers
// in the same order (the AVX-512 kernel set uses it too: the eight sums are what fixes the bits).
// Reading one row at a time, as one stream, measured faster than interleaving several rows.

float combine8(const float acc[8]) {
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

float row_dot_portable(const float* w, const float* x, int C) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int c = 0;
  for (; c + 8 <= C; c += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += w[c + j] * x[c + j];
  }
  float s = combine8(acc);
  for (; c < C; ++c) s += w[c] * x[c];
  return s;
}

#ifdef GPT2_X86
GPT2_TARGET_AVX2 float row_dot_avx2(const float* w, const float* x, int C) {
  __m256 acc = _mm256_setzero_ps();
  int c = 0;
  for (; c + 8 <= C; c += 8) {
    // Each addition waits for the one before (the eight sums fix the bits), so the core issues
    // loads more slowly than the memory could serve them: ask for the line 8 KB ahead, once per
    // 64 bytes. Over GPT-2 124M's wte (154 MB) on one core of chapter 08's AVX-512 machine this
    // read at 86% of a plain sum's speed without the prefetch and at 95-100% with it.
    if (c % 16 == 0) prefetch_ahead(w + c);
    acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_loadu_ps(w + c), _mm256_loadu_ps(x + c)));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, acc);
  float s = combine8(lanes);
  for (; c < C; ++c) s += w[c] * x[c];
  return s;
}
#endif

float row_dot(const float* w, const float* x, int C, Simd simd) {
#ifdef GPT2_X86
  if (simd != Simd::portable) return row_dot_avx2(w, x, C);
#endif
  (void)simd;
  return row_dot_portable(w, x, C);
}

}  // namespace

void matvec_conv1d(float* y, const float* x, const float* W, const float* b, int C, int OC) {
  constexpr int kRows = 64;  // rows of W per chunk: fixed, so the sums do not depend on the threads
  const int chunks = (C + kRows - 1) / kRows;
  // Partial sums (chunks, OC), one buffer per calling thread, grown on demand.
  thread_local std::vector<float> buffer;
  const size_t need = static_cast<size_t>(chunks) * OC;
  if (buffer.size() < need) buffer.resize(need);
  float* partial = buffer.data();
  const Simd simd = active_simd();

#pragma omp parallel for schedule(static) if (static_cast <long long>(C) * OC >= kParallelMin)
  for (int ch = 0; ch < chunks; ++ch) {
    float* p = partial + static_cast<size_t>(ch) * OC;
    std::fill(p, p + OC, 0.0f);
    conv1d_chunk(p, x, W, ch * kRows, std::min(C, (ch + 1) * kRows), OC, simd);
  }
  // y = b + the partial sums, added in chunk order whatever the thread count. The loop over the
  // chunks is the outer one, so that the inner loop runs along contiguous rows (vectorized; with
  // the chunks inner, each y[o] waits for its own chain of scalar additions: 4% of a float32
  // decode step's time in a profile, under 1% this way). Each y[o] still gets b[o] + partial 0 +
  // partial 1 + ... in order.
  constexpr int kBlock = 1024;  // columns of y per task, in L1 for the chunks' passes
  const int blocks = (OC + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (static_cast <long long>(chunks) * OC > 100000)
  for (int blk = 0; blk < blocks; ++blk) {
    const int o0 = blk * kBlock, o1 = std::min(OC, o0 + kBlock);
    for (int o = o0; o < o1; ++o) y[o] = b ? b[o] : 0.0f;
    for (int ch = 0; ch < chunks; ++ch) {
      const float* p = partial + static_cast<size_t>(ch) * OC;
#pragma omp simd
      for (int o = o0; o < o1; ++o) y[o] += p[o];
    }
  }
}

void matvec_rows(float* y, const float* W, const float* x, int N, int C) {
  const Simd simd = active_simd();
#pragma omp parallel for schedule(static) if (static_cast <long long>(N) * C >= kParallelMin)
  for (int n = 0; n < N; ++n) y[n] = row_dot(W + static_cast<size_t>(n) * C, x, C, simd);
}

}  // namespace gpt2
