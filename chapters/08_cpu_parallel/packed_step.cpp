#include "chapters/08_cpu_parallel/packed_step.h"

#include <algorithm>
#include <cstddef>
#include <vector>

#include "chapters/08_cpu_parallel/simd.h"

namespace gpt2 {
namespace {

constexpr int MR = 6;    // rows of the register tile
constexpr int NR = 16;   // columns of the register tile: two 8-float AVX2 registers
constexpr int KC = 256;  // k values per block
constexpr int NC = 512;  // columns per panel of b

// ---------------------------------------------------------------------------------------------
// Packing
// ---------------------------------------------------------------------------------------------

// Rows [0, M) and columns [k0, k0 + kc) of a, as ceil(M / MR) slivers of MR rows:
// packed[(s * kc + k) * MR + r] = a[s * MR + r][k0 + k], zero for rows past M.
void pack_a(std::vector<float>& packed, const float* a, int M, int K, int k0, int kc) {
  const int slivers = (M + MR - 1) / MR;
  packed.assign(static_cast<size_t>(slivers) * kc * MR, 0.0f);
  for (int s = 0; s < slivers; ++s) {
    float* dst = packed.data() + static_cast<size_t>(s) * kc * MR;
    for (int r = 0; r < MR && s * MR + r < M; ++r) {
      const float* row = a + static_cast<size_t>(s * MR + r) * K + k0;
      for (int k = 0; k < kc; ++k) dst[k * MR + r] = row[k];
    }
  }
}

// Rows [k0, k0 + kc) and columns [j0, j0 + nc) of b, as ceil(nc / NR) slivers of NR columns:
// packed[(s * kc + k) * NR + j] = b[k0 + k][j0 + s * NR + j], zero for columns past j0 + nc.
void pack_b(std::vector<float>& packed, const float* b, int N, int k0, int kc, int j0, int nc) {
  const int slivers = (nc + NR - 1) / NR;
  packed.assign(static_cast<size_t>(slivers) * kc * NR, 0.0f);
  for (int s = 0; s < slivers; ++s) {
    const int cols = std::min(NR, nc - s * NR);
    float* dst = packed.data() + static_cast<size_t>(s) * kc * NR;
    for (int k = 0; k < kc; ++k) {
      const float* src = b + static_cast<size_t>(k0 + k) * N + j0 + s * NR;
      for (int j = 0; j < cols; ++j) dst[k * NR + j] = src[j];  // row k of the sliver: contiguous both sides
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The micro-kernel: tile (MR x NR) = a sliver (MR x kc) @ b sliver (kc x NR), as kc rank-1
// updates tile += a[:, k] b[k, :].
// ---------------------------------------------------------------------------------------------

void kernel_portable(int kc, const float* a, const float* b, float tile[MR][NR]) {
  float acc[MR][NR] = {};
  for (int k = 0; k < kc; ++k, a += MR, b += NR) {
    for (int r = 0; r < MR; ++r) {
      for (int j = 0; j < NR; ++j) acc[r][j] += a[r] * b[j];  // constant bounds: the compiler vectorises j
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) tile[r][j] = acc[r][j];
}

#ifdef GPT2_X86
// The same with AVX2 + FMA. target("avx2,fma") lets the compiler use those instructions in this
// function only; it is called only when the CPU has them (simd.h). Row r of the tile is the pair
// of registers (cr_lo, cr_hi): columns 0-7 and 8-15. Twelve accumulators, two registers for b,
// one for the broadcast: 15 of the 16 vector registers.
GPT2_TARGET_AVX2 void kernel_avx2(int kc, const float* a, const float* b, float tile[MR][NR]) {
  __m256 c0_lo = _mm256_setzero_ps(), c0_hi = _mm256_setzero_ps();
  __m256 c1_lo = _mm256_setzero_ps(), c1_hi = _mm256_setzero_ps();
  __m256 c2_lo = _mm256_setzero_ps(), c2_hi = _mm256_setzero_ps();
  __m256 c3_lo = _mm256_setzero_ps(), c3_hi = _mm256_setzero_ps();
  __m256 c4_lo = _mm256_setzero_ps(), c4_hi = _mm256_setzero_ps();
  __m256 c5_lo = _mm256_setzero_ps(), c5_hi = _mm256_setzero_ps();
  for (int k = 0; k < kc; ++k, a += MR, b += NR) {
    const __m256 b_lo = _mm256_loadu_ps(b);      // b[k, 0..7]
    const __m256 b_hi = _mm256_loadu_ps(b + 8);  // b[k, 8..15]
    __m256 ar = _mm256_broadcast_ss(a + 0);      // a[0, k] in all 8 lanes
    c0_lo = _mm256_fmadd_ps(ar, b_lo, c0_lo);    // c0 += a[0, k] * b[k, :], rounded once
    c0_hi = _mm256_fmadd_ps(ar, b_hi, c0_hi);
    ar = _mm256_broadcast_ss(a + 1);
    c1_lo = _mm256_fmadd_ps(ar, b_lo, c1_lo);
    c1_hi = _mm256_fmadd_ps(ar, b_hi, c1_hi);
    ar = _mm256_broadcast_ss(a + 2);
    c2_lo = _mm256_fmadd_ps(ar, b_lo, c2_lo);
    c2_hi = _mm256_fmadd_ps(ar, b_hi, c2_hi);
    ar = _mm256_broadcast_ss(a + 3);
    c3_lo = _mm256_fmadd_ps(ar, b_lo, c3_lo);
    c3_hi = _mm256_fmadd_ps(ar, b_hi, c3_hi);
    ar = _mm256_broadcast_ss(a + 4);
    c4_lo = _mm256_fmadd_ps(ar, b_lo, c4_lo);
    c4_hi = _mm256_fmadd_ps(ar, b_hi, c4_hi);
    ar = _mm256_broadcast_ss(a + 5);
    c5_lo = _mm256_fmadd_ps(ar, b_lo, c5_lo);
    c5_hi = _mm256_fmadd_ps(ar, b_hi, c5_hi);
  }
  _mm256_storeu_ps(tile[0], c0_lo);
  _mm256_storeu_ps(tile[0] + 8, c0_hi);
  _mm256_storeu_ps(tile[1], c1_lo);
  _mm256_storeu_ps(tile[1] + 8, c1_hi);
  _mm256_storeu_ps(tile[2], c2_lo);
  _mm256_storeu_ps(tile[2] + 8, c2_hi);
  _mm256_storeu_ps(tile[3], c3_lo);
  _mm256_storeu_ps(tile[3] + 8, c3_hi);
  _mm256_storeu_ps(tile[4], c4_lo);
  _mm256_storeu_ps(tile[4] + 8, c4_hi);
  _mm256_storeu_ps(tile[5], c5_lo);
  _mm256_storeu_ps(tile[5] + 8, c5_hi);
}
#endif

}  // namespace

void matmul_packed_step(float* out, const float* a, const float* b, int M, int K, int N) {
  // The kernel is chosen once per call, from what the CPU has (simd.h).
  void (*kernel)(int, const float*, const float*, float[MR][NR]) = kernel_portable;
#ifdef GPT2_X86
  if (active_simd() != Simd::portable) kernel = kernel_avx2;  // every AVX-512 CPU has AVX2 too
#endif
  std::fill(out, out + static_cast<size_t>(M) * N, 0.0f);
  std::vector<float> a_packed, b_packed;
  const int a_slivers = (M + MR - 1) / MR;
  for (int k0 = 0; k0 < K; k0 += KC) {  // k blocks in order: each element's sum has a fixed order
    const int kc = std::min(KC, K - k0);
    pack_a(a_packed, a, M, K, k0, kc);
    for (int j0 = 0; j0 < N; j0 += NC) {
      const int nc = std::min(NC, N - j0);
      pack_b(b_packed, b, N, k0, kc, j0, nc);
      const int b_slivers = (nc + NR - 1) / NR;
      // Each thread takes whole b slivers, i.e. whole columns of out: no two threads write the
      // same element, and no thread decides the order of anyone's sum.
#pragma omp parallel for schedule(static)
      for (int sb = 0; sb < b_slivers; ++sb) {
        const float* bs = b_packed.data() + static_cast<size_t>(sb) * kc * NR;
        const int col0 = j0 + sb * NR, cols = std::min(NR, N - col0);
        for (int sa = 0; sa < a_slivers; ++sa) {
          const float* as = a_packed.data() + static_cast<size_t>(sa) * kc * MR;
          float tile[MR][NR];
          kernel(kc, as, bs, tile);
          // Add the valid part of the tile (edge tiles are smaller) into out.
          const int row0 = sa * MR, rows = std::min(MR, M - row0);
          for (int r = 0; r < rows; ++r) {
            float* y = out + static_cast<size_t>(row0 + r) * N + col0;
            for (int j = 0; j < cols; ++j) y[j] += tile[r][j];
          }
        }
      }
    }
  }
}

}  // namespace gpt2
