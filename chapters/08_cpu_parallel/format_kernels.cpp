// The fast bf16 and q8 products: see format_kernels.h for what they do and why.
#include "chapters/08_cpu_parallel/format_kernels.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <vector>

#include "chapters/08_cpu_parallel/matmul.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "common/safetensors.h"  // bf16_to_float

namespace gpt2 {
namespace {

// Products with fewer weights than this (256 KB of floats) run on the calling thread: waking the
// others costs more than they would save.
[[maybe_unused]] constexpr long long kParallelMin = 1 << 16;  // read only by OpenMP pragmas
// Rows of W per work item of the one-row products: fixed, so who computes a row does not change
// how.
constexpr int kRowChunk = 16;
// Up to this many rows of inp, each output is a dot product along a row of W (the weights are read
// once, used N times while in L1); more rows go through gemm() panel by panel.
constexpr int kDotRowsMax = 4;
// Floats of W widened at a time for gemm(): 4 MB, in L2 and L3 while gemm packs them.
constexpr size_t kPanelFloats = size_t{1} << 20;

std::atomic<bool> g_vnni_allowed{true};

// =============================================================================================
// Portable dot products: the plain loops' order (on the portable kernel set the fast products give
// the plain ones' bits).
// =============================================================================================

float dot_bf16_portable(const uint16_t* w, const float* x, int K) {
  float sum = 0.0f;
  for (int c = 0; c < K; ++c) sum += bf16_to_float(w[c]) * x[c];
  return sum;
}

float dot_q8_portable(const int8_t* q, const float* s, const float* x, int K) {
  float sum = 0.0f;
  for (int b = 0; b * kQ8Block < K; ++b) {
    float block = 0.0f;
    for (int c = b * kQ8Block; c < std::min(K, (b + 1) * kQ8Block); ++c)
      block += static_cast<float>(q[c]) * x[c];
    sum += s[b] * block;
  }
  return sum;
}

float dot_q8q8_portable(const int8_t* qw, const float* sw, const int8_t* qx, const float* sx, int blocks) {
  float sum = 0.0f;
  for (int b = 0; b < blocks; ++b) {
    int32_t dot = 0;
    for (int j = b * kQ8Block; j < (b + 1) * kQ8Block; ++j) dot += int32_t{qw[j]} * int32_t{qx[j]};
    sum += (sw[b] * sx[b]) * static_cast<float>(dot);
  }
  return sum;
}

#ifdef GPT2_X86
// =============================================================================================
// AVX2 + FMA: 8 floats per register.
// =============================================================================================

// 8 bf16 values widened to floats: zero-extend each 16-bit value to 32 bits, shift it into the
// upper half (a bf16 is the upper half of a float).
GPT2_TARGET_AVX2 inline __m256 bf16x8_avx2(const uint16_t* p) {
  const __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

// 8 int8 values as floats: sign-extend to int32, convert (exact).
GPT2_TARGET_AVX2 inline __m256 int8x8_avx2(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

GPT2_TARGET_AVX2 inline float dot_bf16_avx2(const uint16_t* w, const float* x, int K) {
  // Two accumulators: 16 weights per step, the two chains of FMAs independent.
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int c = 0;
  for (; c + 16 <= K; c += 16) {
    prefetch_ahead(w + c);
    a0 = _mm256_fmadd_ps(bf16x8_avx2(w + c), _mm256_loadu_ps(x + c), a0);
    a1 = _mm256_fmadd_ps(bf16x8_avx2(w + c + 8), _mm256_loadu_ps(x + c + 8), a1);
  }
  for (; c + 8 <= K; c += 8) a0 = _mm256_fmadd_ps(bf16x8_avx2(w + c), _mm256_loadu_ps(x + c), a0);
  float sum = horizontal_sum(_mm256_add_ps(a0, a1));
  for (; c < K; ++c) sum += bf16_to_float(w[c]) * x[c];
  return sum;
}

GPT2_TARGET_AVX2 inline float dot_q8_avx2(const int8_t* q, const float* s, const float* x, int K) {
  // Each group of 8 weights widened and multiplied by its block's scale, s q, then multiply-added
  // with the activations: four accumulators (one per group of the block), so that four chains of
  // FMAs run side by side instead of one.
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int full = K / kQ8Block;
  for (int b = 0; b < full; ++b) {
    prefetch_ahead(q + b * kQ8Block);
    const int8_t* qb = q + b * kQ8Block;
    const float* xb = x + b * kQ8Block;
    const __m256 scale = _mm256_set1_ps(s[b]);
    a0 = _mm256_fmadd_ps(_mm256_mul_ps(scale, int8x8_avx2(qb)), _mm256_loadu_ps(xb), a0);
    a1 = _mm256_fmadd_ps(_mm256_mul_ps(scale, int8x8_avx2(qb + 8)), _mm256_loadu_ps(xb + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_mul_ps(scale, int8x8_avx2(qb + 16)), _mm256_loadu_ps(xb + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_mul_ps(scale, int8x8_avx2(qb + 24)), _mm256_loadu_ps(xb + 24), a3);
  }
  float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  for (int c = full * kQ8Block; c < K; ++c)
    sum += (s[full] * static_cast<float>(q[c])) * x[c];  // a partial block
  return sum;
}

// One block's 32 products q_w q_x as 8 int32 partial sums (converted to float: exact, each is at
// most 4 * 127^2): the weights' signs moved onto the activations, then unsigned x signed bytes
// added in pairs into int16 (vpmaddubsw) and the pairs in pairs into int32 (vpmaddwd with ones).
GPT2_TARGET_AVX2 inline __m256 block_dot_avx2(const int8_t* qw, const int8_t* qx) {
  const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qw));
  const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qx));
  const __m256i abs_w = _mm256_sign_epi8(w, w);     // |q_w|
  const __m256i signed_x = _mm256_sign_epi8(x, w);  // q_x sign(q_w) (0 where q_w = 0)
  const __m256i pairs = _mm256_maddubs_epi16(abs_w, signed_x);
  const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
  return _mm256_cvtepi32_ps(quads);
}

GPT2_TARGET_AVX2 inline float dot_q8q8_avx2(const int8_t* qw, const float* sw, const int8_t* qx,
                                            const float* sx, int blocks) {
  __m256 acc = _mm256_setzero_ps();
  for (int b = 0; b < blocks; ++b) {
    prefetch_ahead(qw + b * kQ8Block);
    const __m256 scale = _mm256_set1_ps(sw[b] * sx[b]);
    acc = _mm256_fmadd_ps(scale, block_dot_avx2(qw + b * kQ8Block, qx + b * kQ8Block), acc);
  }
  return horizontal_sum(acc);
}

// =============================================================================================
// AVX-512: 16 floats per register; the tails with masks.
// =============================================================================================

GPT2_TARGET_AVX512 inline __m512 bf16x16_avx512(__m256i v) {
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(v), 16));
}

GPT2_TARGET_AVX512 inline __m512 int8x16_avx512(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

GPT2_TARGET_AVX512 inline float dot_bf16_avx512(const uint16_t* w, const float* x, int K) {
  __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
  int c = 0;
  for (; c + 32 <= K; c += 32) {
    // One prefetch per 32 bytes of weights, as in the AVX2 kernel: each cache line is asked for
    // twice. On the Zen 4 of chapter 08's README this decoded bf16 faster than one prefetch per
    // line (80-90 against 66-75 tokens/s on one thread, 119-147 against 106-108 on two, in turns)
    // and than none (75-86 on one thread); the virtual machine has no counters to tell why.
    prefetch_ahead(w + c);
    prefetch_ahead(w + c + 16);
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + c));
    const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + c + 16));
    a0 = _mm512_fmadd_ps(bf16x16_avx512(lo), _mm512_loadu_ps(x + c), a0);
    a1 = _mm512_fmadd_ps(bf16x16_avx512(hi), _mm512_loadu_ps(x + c + 16), a1);
  }
  for (; c < K; c += 16) {  // up to two masked steps; masked lanes are 0 * 0
    const __mmask16 m = first_lanes(K - c);
    const __m256i v = _mm256_maskz_loadu_epi16(m, w + c);
    a0 = _mm512_fmadd_ps(bf16x16_avx512(v), _mm512_maskz_loadu_ps(m, x + c), a0);
  }
  return horizontal_sum(_mm512_add_ps(a0, a1));
}

GPT2_TARGET_AVX512 inline float dot_q8_avx512(const int8_t* q, const float* s, const float* x, int K) {
  // As in AVX2: each weight widened to s q, then one FMA with the activations; two blocks per step
  // in four accumulators.
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int full = K / kQ8Block;
  int b = 0;
  for (; b + 2 <= full; b += 2) {
    prefetch_ahead(q + b * kQ8Block);
    const int8_t* qb = q + b * kQ8Block;
    const float* xb = x + b * kQ8Block;
    const __m512 s0 = _mm512_set1_ps(s[b]), s1 = _mm512_set1_ps(s[b + 1]);
    a0 = _mm512_fmadd_ps(_mm512_mul_ps(s0, int8x16_avx512(qb)), _mm512_loadu_ps(xb), a0);
    a1 = _mm512_fmadd_ps(_mm512_mul_ps(s0, int8x16_avx512(qb + 16)), _mm512_loadu_ps(xb + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_mul_ps(s1, int8x16_avx512(qb + 32)), _mm512_loadu_ps(xb + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_mul_ps(s1, int8x16_avx512(qb + 48)), _mm512_loadu_ps(xb + 48), a3);
  }
  const int blocks = (K + kQ8Block - 1) / kQ8Block;
  for (; b < blocks; ++b) {  // the last block(s): one whole, or one partial with x loaded masked
    const int8_t* qb = q + b * kQ8Block;
    const float* xb = x + b * kQ8Block;
    const int left = K - b * kQ8Block;  // q is padded with zeros to whole blocks, x is not
    const __m512 scale = _mm512_set1_ps(s[b]);
    a0 = _mm512_fmadd_ps(_mm512_mul_ps(scale, int8x16_avx512(qb)),
                         _mm512_maskz_loadu_ps(first_lanes(left), xb), a0);
    a1 = _mm512_fmadd_ps(_mm512_mul_ps(scale, int8x16_avx512(qb + 16)),
                         _mm512_maskz_loadu_ps(first_lanes(left - 16), xb + 16), a1);
  }
  return horizontal_sum(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// Two blocks at a time (64 bytes): lanes 0-7 hold the first block's partial sums, 8-15 the
// second's, each multiplied by its own scale. Without VNNI: vpmaddubsw + vpmaddwd as in AVX2.
GPT2_TARGET_AVX512 inline float dot_q8q8_avx512(const int8_t* qw, const float* sw, const int8_t* qx,
                                                const float* sx, int blocks) {
  __m512 acc = _mm512_setzero_ps();
  const __m512i ones = _mm512_set1_epi16(1);
  for (int b = 0; b < blocks; b += 2) {
    prefetch_ahead(qw + b * kQ8Block);
    const bool pair = b + 1 < blocks;
    const __mmask64 m = pair ? ~__mmask64{0} : __mmask64{0xFFFFFFFF};  // one block left: the low 32 bytes
    const __m512i w = _mm512_maskz_loadu_epi8(m, qw + b * kQ8Block);
    const __m512i x = _mm512_maskz_loadu_epi8(m, qx + b * kQ8Block);
    const __m512i abs_w = _mm512_abs_epi8(w);
    const __m512i signed_x = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
    const __m512i quads = _mm512_madd_epi16(_mm512_maddubs_epi16(abs_w, signed_x), ones);
    const float d1 = pair ? sw[b + 1] * sx[b + 1] : 0.0f;
    const __m512 scale = _mm512_insertf32x8(_mm512_set1_ps(sw[b] * sx[b]), _mm256_set1_ps(d1), 1);
    acc = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(quads), acc);
  }
  return horizontal_sum(acc);
}

// The same with VNNI: vpdpbusd multiplies unsigned by signed bytes and adds each group of four
// into an int32 lane, in one instruction.
GPT2_TARGET_AVX512_VNNI inline float dot_q8q8_vnni(const int8_t* qw, const float* sw, const int8_t* qx,
                                                   const float* sx, int blocks) {
  __m512 acc = _mm512_setzero_ps();
  for (int b = 0; b < blocks; b += 2) {
    prefetch_ahead(qw + b * kQ8Block);
    const bool pair = b + 1 < blocks;
    const __mmask64 m = pair ? ~__mmask64{0} : __mmask64{0xFFFFFFFF};
    const __m512i w = _mm512_maskz_loadu_epi8(m, qw + b * kQ8Block);
    const __m512i x = _mm512_maskz_loadu_epi8(m, qx + b * kQ8Block);
    const __m512i abs_w = _mm512_abs_epi8(w);
    const __m512i signed_x = _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(w), _mm512_setzero_si512(), x);
    const __m512i quads = _mm512_dpbusd_epi32(_mm512_setzero_si512(), abs_w, signed_x);
    const float d1 = pair ? sw[b + 1] * sx[b + 1] : 0.0f;
    const __m512 scale = _mm512_insertf32x8(_mm512_set1_ps(sw[b] * sx[b]), _mm256_set1_ps(d1), 1);
    acc = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(quads), acc);
  }
  return horizontal_sum(acc);
}
#endif

// =============================================================================================
// The one-row products: dot products along the rows of W
// =============================================================================================

// dots[r - r0] = dot(r) for the rows r0 .. r1 - 1 of one chunk. One function per kernel set, each
// compiled for that set's instructions, so that `dot` (a lambda compiled for the same ones, calling
// the set's kernel) is inlined into the loop: the kernel set is chosen once per chunk of rows, and
// the rows are not function calls.
template <typename Dot>
void chunk_portable(float* dots, int r0, int r1, const Dot& dot) {
  for (int r = r0; r < r1; ++r) dots[r - r0] = dot(r);
}
#ifdef GPT2_X86
template <typename Dot>
GPT2_TARGET_AVX2 void chunk_avx2(float* dots, int r0, int r1, const Dot& dot) {
  for (int r = r0; r < r1; ++r) dots[r - r0] = dot(r);
}
template <typename Dot>
GPT2_TARGET_AVX512 void chunk_avx512(float* dots, int r0, int r1, const Dot& dot) {
  for (int r = r0; r < r1; ++r) dots[r - r0] = dot(r);
}
template <typename Dot>
GPT2_TARGET_AVX512_VNNI void chunk_vnni(float* dots, int r0, int r1, const Dot& dot) {
  for (int r = r0; r < r1; ++r) dots[r - r0] = dot(r);
}
#endif

// out[n, r] = bias[r] + dot of row r of W with row n of inp, for every r and n: the rows of W in
// chunks of kRowChunk over the threads, each chunk read once for all N rows of inp;
// `chunk(r0, r1, n, dots)` computes one chunk's dot products with row n (a chunk_* function).
template <typename Chunk>
void rows_of_dots(float* out, int rows, int N, [[maybe_unused]] long long weights, const float* bias,
                  const Chunk& chunk) {
  const int chunks = (rows + kRowChunk - 1) / kRowChunk;
#pragma omp parallel for schedule(static) if (weights >= kParallelMin)
  for (int ch = 0; ch < chunks; ++ch) {
    const int r0 = ch * kRowChunk, r1 = std::min(rows, r0 + kRowChunk);
    for (int n = 0; n < N; ++n) {
      float dots[kRowChunk];
      chunk(r0, r1, n, dots);
      for (int r = r0; r < r1; ++r)
        out[static_cast<size_t>(n) * rows + r] = (bias ? bias[r] : 0.0f) + dots[r - r0];
    }
  }
}

// out (N, rows) = inp (N, K) @ W^T + bias through gemm(): `widen(r, dst)` writes row r of W as K
// floats. A panel of rows is widened (by all threads), then multiplied (gemm, by all threads).
// Each output is gemm's, computed in gemm's fixed order: the panels change nothing but the memory.
template <typename Widen>
void matmul_by_panels(float* out, const float* inp, int N, int rows, int K, const float* bias,
                      const Widen& widen) {
  const int panel_rows = std::max(64, static_cast<int>(kPanelFloats / static_cast<size_t>(K)) / 64 * 64);
  thread_local std::vector<float> buffer;  // the calling thread's; the team writes into it
  buffer.resize(static_cast<size_t>(std::min(rows, panel_rows)) * K);
  float* panel = buffer.data();
  for (int r0 = 0; r0 < rows; r0 += panel_rows) {
    const int r1 = std::min(rows, r0 + panel_rows);
#pragma omp parallel for schedule(static) if (static_cast <long long>(r1 - r0) * K >= kParallelMin)
    for (int r = r0; r < r1; ++r) widen(r, panel + static_cast<size_t>(r - r0) * K);
    gemm(N, r1 - r0, K, MatRef{inp, K, false}, MatRef{panel, K, true}, out + r0, rows, false,
         bias ? bias + r0 : nullptr);
  }
}

}  // namespace

bool vnni_active() {
  return g_vnni_allowed.load(std::memory_order_relaxed) && cpu_has_avx512_vnni();
}

void set_vnni(bool allowed) {
  g_vnni_allowed.store(allowed, std::memory_order_relaxed);
}

void matmul_bf16_fast(float* out, const float* inp, const Bf16Matrix& W, const float* bias, int N) {
  const int K = W.cols;
  if (N > kDotRowsMax) {
    matmul_by_panels(out, inp, N, W.rows, K, bias, [&](int r, float* dst) {
      const uint16_t* w = W.row(r);
      for (int c = 0; c < K; ++c) dst[c] = bf16_to_float(w[c]);
    });
    return;
  }
  const long long weights = static_cast<long long>(W.rows) * K;
  auto x = [&](int n) { return inp + static_cast<size_t>(n) * K; };
  switch (active_simd()) {
#ifdef GPT2_X86
    case Simd::avx512:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_avx512(dots, r0, r1,
                     [&](int r) GPT2_TARGET_AVX512 { return dot_bf16_avx512(W.row(r), x(n), K); });
      });
    case Simd::avx2_fma:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_avx2(dots, r0, r1, [&](int r) GPT2_TARGET_AVX2 { return dot_bf16_avx2(W.row(r), x(n), K); });
      });
#endif
    default:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_portable(dots, r0, r1, [&](int r) { return dot_bf16_portable(W.row(r), x(n), K); });
      });
  }
}

void matmul_q8_fast(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N) {
  const int K = W.cols;
  if (N > kDotRowsMax) {
    matmul_by_panels(out, inp, N, W.rows, K, bias, [&](int r, float* dst) {
      const int8_t* q = W.row(r);
      const float* s = W.row_scales(r);
      for (int b = 0; b * kQ8Block < K; ++b) {
        for (int c = b * kQ8Block; c < std::min(K, (b + 1) * kQ8Block); ++c)
          dst[c] = s[b] * static_cast<float>(q[c]);
      }
    });
    return;
  }
  const long long weights = static_cast<long long>(W.rows) * K;
  auto x = [&](int n) { return inp + static_cast<size_t>(n) * K; };
  switch (active_simd()) {
#ifdef GPT2_X86
    case Simd::avx512:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_avx512(dots, r0, r1, [&](int r) GPT2_TARGET_AVX512 {
          return dot_q8_avx512(W.row(r), W.row_scales(r), x(n), K);
        });
      });
    case Simd::avx2_fma:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_avx2(dots, r0, r1,
                   [&](int r) GPT2_TARGET_AVX2 { return dot_q8_avx2(W.row(r), W.row_scales(r), x(n), K); });
      });
#endif
    default:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_portable(dots, r0, r1,
                       [&](int r) { return dot_q8_portable(W.row(r), W.row_scales(r), x(n), K); });
      });
  }
}

void matmul_q8q8_fast(float* out, const float* inp, const Q8Matrix& W, const float* bias, int N) {
  const int K = W.cols, blocks = W.blocks();
  const size_t row_bytes = static_cast<size_t>(blocks) * kQ8Block;
  // Quantize each row of inp once (a few microseconds), into the calling thread's buffers.
  thread_local std::vector<int8_t> xq_buffer;
  thread_local std::vector<float> xs_buffer;
  xq_buffer.resize(row_bytes * N);
  xs_buffer.resize(static_cast<size_t>(blocks) * N);
  int8_t* xq = xq_buffer.data();
  float* xs = xs_buffer.data();
  for (int n = 0; n < N; ++n) {
    quantize_q8_row(inp + static_cast<size_t>(n) * K, K, xq + row_bytes * n,
                    xs + static_cast<size_t>(blocks) * n);
  }
  const long long weights = static_cast<long long>(W.rows) * K;
  auto qx = [&](int n) { return xq + row_bytes * n; };
  auto sx = [&](int n) { return xs + static_cast<size_t>(blocks) * n; };
  switch (active_simd()) {
#ifdef GPT2_X86
    case Simd::avx512:
      if (vnni_active()) {
        return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
          chunk_vnni(dots, r0, r1, [&](int r) GPT2_TARGET_AVX512_VNNI {
            return dot_q8q8_vnni(W.row(r), W.row_scales(r), qx(n), sx(n), blocks);
          });
        });
      }
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_avx512(dots, r0, r1, [&](int r) GPT2_TARGET_AVX512 {
          return dot_q8q8_avx512(W.row(r), W.row_scales(r), qx(n), sx(n), blocks);
        });
      });
    case Simd::avx2_fma:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_avx2(dots, r0, r1, [&](int r) GPT2_TARGET_AVX2 {
          return dot_q8q8_avx2(W.row(r), W.row_scales(r), qx(n), sx(n), blocks);
        });
      });
#endif
    default:
      return rows_of_dots(out, W.rows, N, weights, bias, [&](int r0, int r1, int n, float* dots) {
        chunk_portable(dots, r0, r1, [&](int r) {
          return dot_q8q8_portable(W.row(r), W.row_scales(r), qx(n), sx(n), blocks);
        });
      });
  }
}

}  // namespace gpt2
