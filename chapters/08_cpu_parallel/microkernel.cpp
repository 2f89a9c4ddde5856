#include "chapters/08_cpu_parallel/microkernel.h"

namespace gpt2 {
namespace {

// ---------------------------------------------------------------------------------------------
// Portable micro-kernel: plain C++. The compiler turns the inner j loop into whatever vectors the
// baseline target has (SSE2 on x86-64, NEON on ARM); it is correct everywhere and about 4x slower
// than the AVX2 one on this machine (see the chapter's table).
// ---------------------------------------------------------------------------------------------
template <int ROWS>
void kernel_portable(int kc, const float* a, const float* b, float* c, size_t ldc, int cols,
                     const float* bias, bool load_c) {
  float acc[ROWS][kNR];
  for (int r = 0; r < ROWS; ++r) {
    for (int j = 0; j < kNR; ++j) {
      float init = (load_c && j < cols) ? c[r * ldc + j] : 0.0f;
      if (bias && j < cols) init += bias[j];
      acc[r][j] = init;
    }
  }
  for (int k = 0; k < kc; ++k) {
    for (int r = 0; r < ROWS; ++r) {
      const float ar = a[r];
      for (int j = 0; j < kNR; ++j) acc[r][j] += ar * b[j];
    }
    a += kMR;
    b += kNR;
  }
  for (int r = 0; r < ROWS; ++r) {
    for (int j = 0; j < cols; ++j) c[r * ldc + j] = acc[r][j];
  }
}

#ifdef GPT2_X86
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA micro-kernel. GPT2_TARGET_AVX2 (`target("avx2,fma")`, simd.h) lets the compiler use
// these instructions in this function only; it is called only after __builtin_cpu_supports said
// the CPU has them.
// acc0[r] holds C(r, 0..7), acc1[r] holds C(r, 8..15). `#pragma GCC unroll` makes sure the r loops
// disappear, so each acc is a register and not an array in memory.
// ---------------------------------------------------------------------------------------------
template <int ROWS>
GPT2_TARGET_AVX2 void kernel_avx2(int kc, const float* a, const float* b, float* c, size_t ldc, int cols,
                                  const float* bias, bool load_c) {
  // Lane masks for a partial tile (cols < 16): lane l of half h is valid when 8h + l < cols.
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lane);
  const __m256i mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols - 8), lane);
  const bool full = cols == kNR;

  __m256 acc0[ROWS], acc1[ROWS];
#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) {
    if (!load_c) {
      acc0[r] = _mm256_setzero_ps();
      acc1[r] = _mm256_setzero_ps();
    } else if (full) {
      acc0[r] = _mm256_loadu_ps(c + r * ldc);
      acc1[r] = _mm256_loadu_ps(c + r * ldc + 8);
    } else {
      acc0[r] = _mm256_maskload_ps(c + r * ldc, mask0);
      acc1[r] = _mm256_maskload_ps(c + r * ldc + 8, mask1);
    }
  }
  if (bias) {
    const __m256 bias0 = _mm256_maskload_ps(bias, mask0);
    const __m256 bias1 = _mm256_maskload_ps(bias + 8, mask1);
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) {
      acc0[r] = _mm256_add_ps(acc0[r], bias0);
      acc1[r] = _mm256_add_ps(acc1[r], bias1);
    }
  }

  // The hot loop: one rank-1 update of the tile per k.
#pragma GCC unroll 4
  for (int k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b);
    const __m256 b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + r);
      acc0[r] = _mm256_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm256_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMR;
    b += kNR;
  }

#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) {
    if (full) {
      _mm256_storeu_ps(c + r * ldc, acc0[r]);
      _mm256_storeu_ps(c + r * ldc + 8, acc1[r]);
    } else {
      _mm256_maskstore_ps(c + r * ldc, mask0, acc0[r]);
      _mm256_maskstore_ps(c + r * ldc + 8, mask1, acc1[r]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// AVX-512 micro-kernel: the AVX2 one with 16-float registers. acc0[r] holds C(r, 0..15), acc1[r]
// holds C(r, 16..31): the same 6 x 2 registers, now a 6 x 32 tile, 12 FMAs of 16 lanes per k.
// (AVX-512 has 32 registers, so a taller tile would fit too; see the chapter's "going deeper".)
// A partial tile uses mask registers: a masked load reads only the lanes whose bit is set (the
// others become 0 and are never touched in memory, so reading past the end of a row is safe),
// and a masked store writes only those lanes. A full tile is the mask with all 16 bits set, so
// there is no separate path for it.
// ---------------------------------------------------------------------------------------------
template <int ROWS>
GPT2_TARGET_AVX512 void kernel_avx512(int kc, const float* a, const float* b, float* c, size_t ldc, int cols,
                                      const float* bias, bool load_c) {
  const __mmask16 mask0 = first_lanes(cols), mask1 = first_lanes(cols - 16);

  __m512 acc0[ROWS], acc1[ROWS];
#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) {
    acc0[r] = load_c ? _mm512_maskz_loadu_ps(mask0, c + r * ldc) : _mm512_setzero_ps();
    acc1[r] = load_c ? _mm512_maskz_loadu_ps(mask1, c + r * ldc + 16) : _mm512_setzero_ps();
  }
  if (bias) {
    const __m512 bias0 = _mm512_maskz_loadu_ps(mask0, bias);
    const __m512 bias1 = _mm512_maskz_loadu_ps(mask1, bias + 16);
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) {
      acc0[r] = _mm512_add_ps(acc0[r], bias0);
      acc1[r] = _mm512_add_ps(acc1[r], bias1);
    }
  }

#pragma GCC unroll 4
  for (int k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b);
    const __m512 b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 6
    for (int r = 0; r < ROWS; ++r) {
      const __m512 ar = _mm512_set1_ps(a[r]);
      acc0[r] = _mm512_fmadd_ps(ar, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(ar, b1, acc1[r]);
    }
    a += kMR;
    b += kNR512;
  }

#pragma GCC unroll 6
  for (int r = 0; r < ROWS; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, mask0, acc0[r]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, mask1, acc1[r]);
  }
}
#endif

// One instantiation per row count, so that an edge tile with fewer rows wastes no work.
using KernelFn = void (*)(int, const float*, const float*, float*, size_t, int, const float*, bool);

constexpr KernelFn portable_kernels[kMR] = {kernel_portable<1>, kernel_portable<2>, kernel_portable<3>,
                                            kernel_portable<4>, kernel_portable<5>, kernel_portable<6>};
#ifdef GPT2_X86
constexpr KernelFn avx2_kernels[kMR] = {kernel_avx2<1>, kernel_avx2<2>, kernel_avx2<3>,
                                        kernel_avx2<4>, kernel_avx2<5>, kernel_avx2<6>};
constexpr KernelFn avx512_kernels[kMR] = {kernel_avx512<1>, kernel_avx512<2>, kernel_avx512<3>,
                                          kernel_avx512<4>, kernel_avx512<5>, kernel_avx512<6>};
#endif

}  // namespace

void microkernel(Simd simd, int kc, const float* a, const float* b, float* c, size_t ldc, int rows, int cols,
                 const float* bias, bool load_c) {
#ifdef GPT2_X86
  if (simd == Simd::avx512) {
    avx512_kernels[rows - 1](kc, a, b, c, ldc, cols, bias, load_c);
    return;
  }
  if (simd == Simd::avx2_fma) {
    avx2_kernels[rows - 1](kc, a, b, c, ldc, cols, bias, load_c);
    return;
  }
#else
  (void)simd;
#endif
  portable_kernels[rows - 1](kc, a, b, c, ldc, cols, bias, load_c);
}

}  // namespace gpt2
