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

// ---- One tile of matvec_conv1d_tiled: p[o] (o < width) = sum over the tile's rows r of
// x[r] t[r, o], the rows added in order, starting from zero: the additions conv1d_chunk makes for
// these columns. The partial sums stay in registers for the whole tile.

void conv1d_tile_portable(float* p, const float* x, const float* t, int rows, int width) {
  float acc[64] = {};
  for (int r = 0; r < rows; ++r) {
    const float* w = t + static_cast<size_t>(r) * width;
    for (int o = 0; o < width; ++o) acc[o] += x[r] * w[o];
  }
  std::copy(acc, acc + width, p);
}

#ifdef GPT2_X86
GPT2_TARGET_AVX2 void conv1d_tile_avx2(float* p, const float* x, const float* t, int rows, int width) {
  if (width != 64) return conv1d_tile_portable(p, x, t, rows, width);
  // Eight named registers: written as an array with a loop, g++ -O2 kept the sums on the stack,
  // a load and a store per register and row, which is what the tiles are there to avoid.
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int r = 0; r < rows; ++r) {
    const __m256 xr = _mm256_set1_ps(x[r]);
    const float* w = t + r * 64;
    a0 = _mm256_add_ps(a0, _mm256_mul_ps(xr, _mm256_loadu_ps(w)));
    a1 = _mm256_add_ps(a1, _mm256_mul_ps(xr, _mm256_loadu_ps(w + 8)));
    a2 = _mm256_add_ps(a2, _mm256_mul_ps(xr, _mm256_loadu_ps(w + 16)));
    a3 = _mm256_add_ps(a3, _mm256_mul_ps(xr, _mm256_loadu_ps(w + 24)));
    a4 = _mm256_add_ps(a4, _mm256_mul_ps(xr, _mm256_loadu_ps(w + 32)));
    a5 = _mm256_add_ps(a5, _mm256_mul_ps(xr, _mm256_loadu_ps(w + 40)));
    a6 = _mm256_add_ps(a6, _mm256_mul_ps(xr, _mm256_loadu_ps(w + 48)));
    a7 = _mm256_add_ps(a7, _mm256_mul_ps(xr, _mm256_loadu_ps(w + 56)));
  }
  _mm256_storeu_ps(p, a0);
  _mm256_storeu_ps(p + 8, a1);
  _mm256_storeu_ps(p + 16, a2);
  _mm256_storeu_ps(p + 24, a3);
  _mm256_storeu_ps(p + 32, a4);
  _mm256_storeu_ps(p + 40, a5);
  _mm256_storeu_ps(p + 48, a6);
  _mm256_storeu_ps(p + 56, a7);
}

GPT2_TARGET_AVX512 void conv1d_tile_avx512(float* p, const float* x, const float* t, int rows, int width) {
  if (width != 64) return conv1d_tile_portable(p, x, t, rows, width);
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int r = 0; r < rows; ++r) {
    const __m512 xr = _mm512_set1_ps(x[r]);
    const float* w = t + r * 64;
    a0 = _mm512_add_ps(a0, _mm512_mul_ps(xr, _mm512_loadu_ps(w)));
    a1 = _mm512_add_ps(a1, _mm512_mul_ps(xr, _mm512_loadu_ps(w + 16)));
    a2 = _mm512_add_ps(a2, _mm512_mul_ps(xr, _mm512_loadu_ps(w + 32)));
    a3 = _mm512_add_ps(a3, _mm512_mul_ps(xr, _mm512_loadu_ps(w + 48)));
  }
  _mm512_storeu_ps(p, a0);
  _mm512_storeu_ps(p + 16, a1);
  _mm512_storeu_ps(p + 32, a2);
  _mm512_storeu_ps(p + 48, a3);
}
#endif

void conv1d_tile(float* p, const float* x, const float* t, int rows, int width, Simd simd) {
#ifdef GPT2_X86
  if (simd == Simd::avx512) return conv1d_tile_avx512(p, x, t, rows, width);
  if (simd == Simd::avx2_fma) return conv1d_tile_avx2(p, x, t, rows, width);
#endif
  (void)simd;
  conv1d_tile_portable(p, x, t, rows, width);
}

constexpr int kRows = 64;  // rows of W per chunk: fixed, so the sums do not depend on the threads
constexpr int kTile = 64;  // columns per tile of TiledConv1D

// The partial sums (chunks, OC) of one product, one buffer per calling thread, grown on demand.
float* partial_sums(int chunks, int OC) {
  thread_local std::vector<float> buffer;
  const size_t need = static_cast<size_t>(chunks) * OC;
  if (buffer.size() < need) buffer.resize(need);
  return buffer.data();
}

// y = b + the partial sums, added in chunk order whatever the thread count. The loop over the
// chunks is the outer one, so that the inner loop runs along contiguous rows (vectorized; with
// the chunks inner, each y[o] waits for its own chain of scalar additions: 4% of a float32
// decode step's time in a profile, under 1% this way). Each y[o] still gets b[o] + partial 0 +
// partial 1 + ... in order.
void add_partial_sums(float* y, const float* b, const float* partial, int chunks, int OC) {
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
  const int chunks = (C + kRows - 1) / kRows;
  float* partial = partial_sums(chunks, OC);
  const Simd simd = active_simd();
#pragma omp parallel for schedule(static) if (static_cast <long long>(C) * OC >= kParallelMin)
  for (int ch = 0; ch < chunks; ++ch) {
    float* p = partial + static_cast<size_t>(ch) * OC;
    std::fill(p, p + OC, 0.0f);
    conv1d_chunk(p, x, W, ch * kRows, std::min(C, (ch + 1) * kRows), OC, simd);
  }
  add_partial_sums(y, b, partial, chunks, OC);
}

TiledConv1D tile_conv1d(const float* W, int C, int OC) {
  TiledConv1D t;
  t.C = C;
  t.OC = OC;
  t.values.resize(static_cast<size_t>(C) * OC);
  float* out = t.values.data();  // filled in order: chunk by chunk, tile by tile, row by row
  for (int c0 = 0; c0 < C; c0 += kRows) {
    const int rows = std::min(kRows, C - c0);
    for (int o0 = 0; o0 < OC; o0 += kTile) {
      const int width = std::min(kTile, OC - o0);
      for (int c = c0; c < c0 + rows; ++c, out += width) {
        std::copy_n(W + static_cast<size_t>(c) * OC + o0, width, out);
      }
    }
  }
  return t;
}

void matvec_conv1d_tiled(float* y, const float* x, const TiledConv1D& W, const float* b) {
  const int C = W.C, OC = W.OC;
  const int chunks = (C + kRows - 1) / kRows;
  float* partial = partial_sums(chunks, OC);
  const Simd simd = active_simd();
#pragma omp parallel for schedule(static) if (static_cast <long long>(C) * OC >= kParallelMin)
  for (int ch = 0; ch < chunks; ++ch) {
    const int c0 = ch * kRows, rows = std::min(kRows, C - c0);
    const float* chunk = W.values.data() + static_cast<size_t>(c0) * OC;
    float* p = partial + static_cast<size_t>(ch) * OC;
    for (int o0 = 0; o0 < OC; o0 += kTile) {
      conv1d_tile(p + o0, x + c0, chunk + static_cast<size_t>(rows) * o0, rows, std::min(kTile, OC - o0),
                  simd);
    }
  }
  add_partial_sums(y, b, partial, chunks, OC);
}

void matvec_rows(float* y, const float* W, const float* x, int N, int C) {
  const Simd simd = active_simd();
#pragma omp parallel for schedule(static) if (static_cast <long long>(N) * C >= kParallelMin)
  for (int n = 0; n < N; ++n) y[n] = row_dot(W + static_cast<size_t>(n) * C, x, C, simd);
}

}  // namespace gpt2
