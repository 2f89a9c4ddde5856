#include "chapters/08_cpu_parallel/matmul.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <unistd.h>

#include "chapters/08_cpu_parallel/microkernel.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/vector_ops.h"

namespace gpt2 {
namespace {

// ---------------------------------------------------------------------------------------------
// Block sizes, chosen for the caches of one core (32-48 KB L1d and 1-2 MB L2 on the AMD EPYCs and
// Intel Xeons we measured):
//   a packed block of A, MC x KC floats (432 KB for KC = 768), stays in L2 while the slivers of B
//   stream past it, so KC is the largest multiple of 128 from 256 to 768 for which it takes at most
//   half of L2 (768 with a 1 MB L2, 384 with 512 KB);
//   a packed sliver of B, KC x NR floats (48 KB for AVX2, 96 KB for AVX-512), is read from L1
//   and L2 by the kernel once per sliver of A;
//   a packed block of B, KC x NC floats, stays in L2 and L3 while every block of A passes over it.
//   NC = 768 covers GPT-2's C in one block, so that an A too large to keep packed is packed once,
//   not twice; when A is packed once for the whole call ("resident"), a narrower block costs no
//   extra packing and keeps the block of B (KC x 256) in L2.
// A long K block is what the kernel wants: each K block loads its C tile and stores it back, and
// for the LM head (C is 256 x 50257, 51 MB) that is a trip to memory, three of them with KC = 256
// against one with KC = 768.
// The K dimension is cut in blocks of KC whatever the thread count: this fixes the order in which
// every sum is added, which is what makes the result independent of the thread count. KC itself
// does not change the bits either: the kernel starts a tile from C as the previous K block stored
// it (exactly, in float) and adds the same products in the same order, whatever KC is.
// ---------------------------------------------------------------------------------------------
constexpr int MC = 144;             // a multiple of kMR
constexpr int NC = 768;             // a multiple of both tile widths, kNR and kNR512
constexpr int NC_A_RESIDENT = 256;  // the same, for a resident A

int choose_kc() {
  long l2 = 0;
#ifdef _SC_LEVEL2_CACHE_SIZE  // glibc's; 0 or -1 where it cannot tell
  l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
  if (l2 <= 0) l2 = 1 << 20;  // unknown: assume 1 MB
  const long kc = l2 / 2 / (MC * static_cast<long>(sizeof(float))) / 128 * 128;
  return static_cast<int>(std::clamp(kc, 256L, 768L));
}
const int KC = choose_kc();

// ---------------------------------------------------------------------------------------------
// Packing. The plain loops say what is copied where. The AVX2 versions do the same copies 8
// floats at a time for the full slivers (the AVX-512 kernel set uses them too: every AVX-512 CPU
// has AVX2). Packing reads and writes each operand block once; with the AVX-512 kernel twice as
// fast as the AVX2 one, copying one float at a time took a quarter of the time of a product.
// ---------------------------------------------------------------------------------------------

// One sliver of op(A): rows [row0, row0 + rows) and columns [k0, k0 + kc), rows <= kMR, as
// d[k * kMR + r] = op(A)(row0 + r, k0 + k); rows past the edge are zeros.
void pack_a_sliver(const MatRef& A, int row0, int rows, int k0, int kc, float* d) {
  if (A.transposed) {
    // op(A)(i, k) = data[k * ld + i]: the kMR values of one k are already contiguous.
    for (int k = 0; k < kc; ++k) {
      const float* s = A.data + static_cast<size_t>(k0 + k) * A.ld + row0;
      for (int r = 0; r < rows; ++r) d[k * kMR + r] = s[r];
      for (int r = rows; r < kMR; ++r) d[k * kMR + r] = 0.0f;
    }
  } else {
    // op(A)(i, k) = data[i * ld + k]: interleave kMR rows.
    for (int r = 0; r < kMR; ++r) {
      if (r < rows) {
        const float* s = A.data + static_cast<size_t>(row0 + r) * A.ld + k0;
        for (int k = 0; k < kc; ++k) d[k * kMR + r] = s[k];
      } else {
        for (int k = 0; k < kc; ++k) d[k * kMR + r] = 0.0f;
      }
    }
  }
}

// One sliver of op(B): rows [k0, k0 + kc) and columns [col0, col0 + cols), cols <= nr, as
// d[k * nr + j] = op(B)(k0 + k, col0 + j); columns past the edge are zeros.
void pack_b_sliver(const MatRef& B, int k0, int kc, int col0, int cols, int nr, float* d) {
  for (int k = 0; k < kc; ++k) {
    for (int j = 0; j < nr; ++j) {
      const size_t at = B.transposed ? static_cast<size_t>(col0 + j) * B.ld + k0 + k
                                     : static_cast<size_t>(k0 + k) * B.ld + col0 + j;
      d[k * nr + j] = j < cols ? B.data[at] : 0.0f;
    }
  }
}

#ifdef GPT2_X86
// Transposes 8 rows of 8 floats in registers, so that r[j] then holds what was column j: the
// classic unpack (pairs), shuffle (quads), swap of 128-bit halves.
GPT2_TARGET_AVX2 inline void transpose8x8(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// A full sliver of op(A) (kMR rows), 8 floats at a time. A row of the packed sliver is only 6
// floats, so each 8-float store also writes 2 floats of the next row, which the next store
// overwrites; the last row of the sliver is copied one float at a time, so that nothing is written
// past the sliver.
GPT2_TARGET_AVX2 void pack_a_sliver_avx2(const MatRef& A, int row0, int k0, int kc, float* d) {
  int k = 0;
  if (A.transposed) {
    if (row0 + 8 > A.ld) return pack_a_sliver(A, row0, kMR, k0, kc, d);  // 8 floats would pass the row
    for (; k + 1 < kc; ++k) {
      _mm256_storeu_ps(d + k * kMR, _mm256_loadu_ps(A.data + static_cast<size_t>(k0 + k) * A.ld + row0));
    }
  } else {
    // 8 k at a time: load 8 floats of each of the 6 rows (2 zero rows), transpose, and store the
    // 8 columns, which are the packed rows k .. k + 7.
    const float* rows = A.data + static_cast<size_t>(row0) * A.ld + k0;
    for (; k + 8 < kc; k += 8) {
      __m256 r[8];
      if (k % 16 == 0) {  // once per cache line of each row: ask for the line 8 lines ahead
        for (int i = 0; i < kMR; ++i) {
          _mm_prefetch(reinterpret_cast<const char*>(rows + static_cast<size_t>(i) * A.ld + k + 128),
                       _MM_HINT_T0);
        }
      }
      for (int i = 0; i < kMR; ++i) r[i] = _mm256_loadu_ps(rows + static_cast<size_t>(i) * A.ld + k);
      r[6] = r[7] = _mm256_setzero_ps();
      transpose8x8(r);
      for (int j = 0; j < 8; ++j) _mm256_storeu_ps(d + (k + j) * kMR, r[j]);
    }
  }
  for (; k < kc; ++k) {
    for (int r = 0; r < kMR; ++r) {
      d[k * kMR + r] = A.transposed ? A.data[static_cast<size_t>(k0 + k) * A.ld + row0 + r]
                                    : A.data[static_cast<size_t>(row0 + r) * A.ld + k0 + k];
    }
  }
}

// op(B) = B, not transposed: row k of the block is contiguous in memory. Read it from left to
// right (a stream the hardware prefetcher follows) and deal its nr-float pieces out to the
// slivers, 8 floats at a time; walking down one sliver's rows instead would touch a new row at
// every step. The last, partial sliver is filled with zeros past the edge.
GPT2_TARGET_AVX2 void pack_b_rows_avx2(const MatRef& B, int k0, int kc, int j0, int nc, float* dst,
                                       size_t stride, int nr) {
  const int full = nc / nr * nr;
  for (int k = 0; k < kc; ++k) {
    const float* s = B.data + static_cast<size_t>(k0 + k) * B.ld + j0;
    if (k + 4 < kc) {  // the row 4 rows ahead, one prefetch per cache line
      for (int j = 0; j < nc; j += 16) {
        _mm_prefetch(reinterpret_cast<const char*>(s + 4 * static_cast<size_t>(B.ld) + j), _MM_HINT_T0);
      }
    }
    for (int p = 0; p < full; p += nr) {
      float* d = dst + (p / nr) * stride + static_cast<size_t>(k) * nr;
      for (int j = 0; j < nr; j += 8) _mm256_store_ps(d + j, _mm256_loadu_ps(s + p + j));
    }
    if (full < nc) {
      float* d = dst + (full / nr) * stride + static_cast<size_t>(k) * nr;
      for (int j = 0; j < nr; ++j) d[j] = full + j < nc ? s[full + j] : 0.0f;
    }
  }
}

// A full sliver of a transposed op(B) (nr = 16 or 32 columns), 8 floats at a time.
GPT2_TARGET_AVX2 void pack_b_sliver_transposed_avx2(const MatRef& B, int k0, int kc, int col0, int nr,
                                                    float* d) {
  // op(B)(k, j) = data[j * ld + k]: the sliver is an nr x kc block of data to be transposed, in
  // 8 x 8 pieces transposed in registers. The nr rows of data are read from left to right, nr
  // streams, with software prefetches ahead of them (the rows are K floats apart, often a
  // multiple of 4 KB: the hardware prefetcher alone left the loads waiting). The pieces of one
  // group of 8 values of k are taken side by side, so each packed row of nr floats is written
  // whole at once: taken 8 columns at a time down all of kc instead, the sliver (up to 96 KB)
  // left L1 between the four visits to each of its lines.
  const float* src = B.data + static_cast<size_t>(col0) * B.ld + k0;
  int k = 0;
  for (; k + 8 <= kc; k += 8) {
    for (int h = 0; h < nr; h += 8) {
      const float* s = src + static_cast<size_t>(h) * B.ld;
      __m256 r[8];
      if (k % 16 == 0) {  // once per cache line of each row: ask for the line 8 lines ahead
        for (int i = 0; i < 8; ++i) {
          _mm_prefetch(reinterpret_cast<const char*>(s + static_cast<size_t>(i) * B.ld + k + 128),
                       _MM_HINT_T0);
        }
      }
      for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + static_cast<size_t>(i) * B.ld + k);
      transpose8x8(r);
      for (int i = 0; i < 8; ++i) _mm256_store_ps(d + (k + i) * nr + h, r[i]);
    }
  }
  for (; k < kc; ++k) {
    for (int j = 0; j < nr; ++j) d[k * nr + j] = src[static_cast<size_t>(j) * B.ld + k];
  }
}
#endif

// Packs rows [i0, i0 + mc) and columns [k0, k0 + kc) of op(A) as ceil(mc / kMR) slivers of kMR
// rows, `stride` floats apart (see microkernel.h).
void pack_a(const MatRef& A, int i0, int mc, int k0, int kc, float* dst, size_t stride, Simd simd) {
  for (int p = 0; p < mc; p += kMR) {
    const int rows = std::min(kMR, mc - p);
    float* d = dst + (p / kMR) * stride;
#ifdef GPT2_X86
    if (simd != Simd::portable && rows == kMR) {
      pack_a_sliver_avx2(A, i0 + p, k0, kc, d);
      continue;
    }
#else
    (void)simd;
#endif
    pack_a_sliver(A, i0 + p, rows, k0, kc, d);
  }
}

// Packs rows [k0, k0 + kc) and columns [j0, j0 + nc) of op(B) as ceil(nc / nr) slivers of nr
// columns, `stride` floats apart (nr = tile_cols(simd), microkernel.h).
void pack_b(const MatRef& B, int k0, int kc, int j0, int nc, float* dst, size_t stride, Simd simd) {
  const int nr = tile_cols(simd);
#ifdef GPT2_X86
  if (simd != Simd::portable && !B.transposed) return pack_b_rows_avx2(B, k0, kc, j0, nc, dst, stride, nr);
#endif
  for (int p = 0; p < nc; p += nr) {
    const int cols = std::min(nr, nc - p);
    float* d = dst + (p / nr) * stride;
#ifdef GPT2_X86
    if (simd != Simd::portable && cols == nr) {
      pack_b_sliver_transposed_avx2(B, k0, kc, j0 + p, nr, d);
      continue;
    }
#endif
    pack_b_sliver(B, k0, kc, j0 + p, cols, nr, d);
  }
}

// A growable, 64-byte aligned float buffer.
class AlignedBuffer {
 public:
  float* get(size_t n) {
    if (n > size_) {
      data_.reset(static_cast<float*>(std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64)));
      size_ = n;
    }
    return data_.get();
  }

 private:
  struct FreeDeleter {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float[], FreeDeleter> data_;
  size_t size_ = 0;
};

// One thread's packing buffers, allocated once per thread and reused by every call (OpenMP keeps
// its threads alive between parallel regions, so thread_local storage survives too).
struct PackBuffers {
  AlignedBuffer a, b;
};

PackBuffers& thread_buffers() {
  thread_local PackBuffers buffers;
  return buffers;
}

// An operand packed as slivers: sliver s of the current K block starts at data + s * stride.
struct Packed {
  const float* data;
  size_t stride;
};

// The two innermost loops around the micro-kernel, over an mc x nc block of C: the B sliver
// (kc x nr floats: 16 KB for AVX2, 32 KB for AVX-512) stays in L1 while the kernel runs down all
// the A slivers of the block.
void macro_kernel(Packed a, Packed b, int mc, int nc, int kc, float* c, int ldc, const float* bias,
                  bool load_c, Simd simd) {
  const int nr = tile_cols(simd);
  for (int jr = 0; jr < nc; jr += nr) {
    const float* b_sliver = b.data + (jr / nr) * b.stride;
    for (int ir = 0; ir < mc; ir += kMR) {
      // The tile of C the kernel will load next: ask for its cache lines now, so that they arrive
      // while this tile's kc steps run instead of stalling the next call. (C is touched once per
      // K block; between two visits the other blocks have pushed it out to L3 or memory.)
      if (load_c && ir + kMR < mc) {
        for (int r = 0; r < std::min(kMR, mc - ir - kMR); ++r) {
          const float* row = c + static_cast<size_t>(ir + kMR + r) * ldc + jr;
          for (int j = 0; j < std::min(nr, nc - jr); j += 16) __builtin_prefetch(row + j, 1);
        }
      }
      microkernel(simd, kc, a.data + (ir / kMR) * a.stride, b_sliver, c + static_cast<size_t>(ir) * ldc + jr,
                  ldc, std::min(kMR, mc - ir), std::min(nr, nc - jr), bias ? bias + jr : nullptr, load_c);
    }
  }
}

// A whole operand is packed once up front ("resident") when it is small and would otherwise be
// packed again for every block of the other operand: 2M floats = 8 MB at most. It is stored block
// by block, each (rows, K) block contiguous exactly as a freshly packed one would be, so that the
// block in use is one compact 144 KB (A) or 768 KB (B) region that stays in L2.
constexpr size_t kResidentFloats = size_t{1} << 21;

// Where block (first row or column `offset` of the range, K block starting at pc) of a resident
// operand starts: the earlier row blocks take offset * K floats, the earlier K blocks of this one
// `width` (its rows or columns, rounded up to whole slivers) * pc.
size_t resident_offset(int offset, int width, int sliver, int K, int pc) {
  const size_t rounded = static_cast<size_t>((width + sliver - 1) / sliver) * sliver;
  return static_cast<size_t>(offset) * K + rounded * pc;
}

// The packed A the threads of one gemm() call share, owned by the thread that calls gemm() and
// kept for the next call. At most kResidentFloats (8 MB), so that it stays in L3 between packing
// and use: a larger one (the 256 x 50257 gradient of GPT-2's logits) is written to memory and
// read back, which costs more than each thread packing its blocks as it goes.
constexpr size_t kSharedFloats = kResidentFloats;
AlignedBuffer& shared_a_buffer() {
  thread_local AlignedBuffer buffer;
  return buffer;
}

// Packs rows [i_begin, i_end) of op(A), all K, block by block in the resident layout: the (row
// block, K block) pieces number part, part + parts, part + 2 parts, ... of them (threads that
// share the work take one `part` each).
void pack_a_resident(const MatRef& A, int i_begin, int i_end, int K, float* dst, Simd simd, int part,
                     int parts) {
  const int k_blocks = (K + KC - 1) / KC;
  int piece = 0;
  for (int ic = i_begin; ic < i_end; ic += MC) {
    for (int kb = 0; kb < k_blocks; ++kb, ++piece) {
      if (piece % parts != part) continue;
      const int pc = kb * KC, kc = std::min(KC, K - pc);
      const int mc = std::min(MC, i_end - ic);
      pack_a(A, ic, mc, pc, kc, dst + resident_offset(ic - i_begin, mc, kMR, K, pc),
             static_cast<size_t>(kMR) * kc, simd);
    }
  }
}

// Asks for the memory of rows [i0, i0 + mc), columns [k0, k0 + kc) of op(A) when op(A) is a
// transposed matrix (the LM head's dlogits^T): there each k is a different row of memory, 201 KB
// from the next for GPT-2's logits, holding mc contiguous floats of the block, and the hardware
// prefetcher does not follow kc streams at once. Called for the next block while this one
// computes, so that packing it finds its lines in the caches instead of waiting for memory.
void prefetch_a_block(const MatRef& A, int i0, int mc, int k0, int kc) {
  if (!A.transposed) return;
  for (int k = k0; k < k0 + kc; ++k) {
    const char* row = reinterpret_cast<const char*>(A.data + static_cast<size_t>(k) * A.ld + i0);
    for (int b = 0; b < mc * static_cast<int>(sizeof(float)) + 63; b += 64) __builtin_prefetch(row + b, 0, 1);
  }
}

// The loop nest of GotoBLAS / BLIS over the block [i_begin, i_end) x [j_begin, j_end) of C.
// `a_packed`, when not null, is all of those rows of op(A) already packed in the resident layout.
void gemm_block(int i_begin, int i_end, int j_begin, int j_end, int K, const MatRef& A, const MatRef& B,
                float* C, int ldc, bool accumulate, const float* bias, Simd simd, const float* a_packed) {
  PackBuffers& buf = thread_buffers();
  const int nr = tile_cols(simd);
  const int k_blocks = K == 0 ? 1 : (K + KC - 1) / KC;  // K == 0 still writes bias (or zeros)
  const int rows = i_end - i_begin, cols = j_end - j_begin;
  const size_t a_all = static_cast<size_t>((rows + kMR - 1) / kMR) * kMR * K;
  const size_t b_all = static_cast<size_t>((cols + nr - 1) / nr) * nr * K;
  // A is packed once whenever C is wider than one narrow block of B and A fits: then the block of
  // B (KC x 256 floats, 768 KB), the K block of A and the tile rows of C in use stay in a 2 MB L2
  // together. In blocks of NC = 768 columns instead, a product with 768 columns (the projection
  // and the `dout@W^T` of GPT-2's layers) packs 2.3 MB blocks of B, more than such an L2 holds:
  // measured 2-7% slower on one thread of a Xeon with 2 MB of L2.
  const bool a_resident = a_packed || (cols > NC_A_RESIDENT && a_all <= kResidentFloats);
  const bool b_resident = !a_resident && rows > MC && b_all <= kResidentFloats;

  // The first K block starts from 0 (or from C when accumulating) plus the bias; the later ones
  // add to what the earlier ones stored. Whatever the loop order below, every element of C
  // receives its K blocks in the order 0, 1, 2, ...
  auto block = [&](int ic, int mc, int jc, int nc, int kb, Packed a, Packed b) {
    const int kc = std::min(KC, K - kb * KC);
    macro_kernel(a, b, mc, nc, kc, C + static_cast<size_t>(ic) * ldc + jc, ldc,
                 (kb == 0 && bias) ? bias + jc : nullptr, accumulate || kb > 0, simd);
  };

  if (!b_resident) {
    // B block by B block (jc, then K); A either resident or packed per (ic, K) block.
    const float* a_res = a_packed;
    if (a_resident && !a_res) {
      float* packed = buf.a.get(a_all);
      pack_a_resident(A, i_begin, i_end, K, packed, simd, 0, 1);
      a_res = packed;
    }
    const int ncb = a_resident ? NC_A_RESIDENT : NC;
    float* b_blk = buf.b.get(static_cast<size_t>(KC) * NC);
    float* a_blk = a_resident ? nullptr : buf.a.get(static_cast<size_t>(MC) * KC);
    for (int jc = j_begin; jc < j_end; jc += ncb) {
      const int nc = std::min(ncb, j_end - jc);
      for (int kb = 0; kb < k_blocks; ++kb) {
        const int pc = kb * KC, kc = std::min(KC, K - pc);
        pack_b(B, pc, kc, jc, nc, b_blk, static_cast<size_t>(nr) * kc, simd);
        const Packed b{b_blk, static_cast<size_t>(nr) * kc};
        for (int ic = i_begin; ic < i_end; ic += MC) {
          const int mc = std::min(MC, i_end - ic);
          Packed a{a_blk, static_cast<size_t>(kMR) * kc};
          if (a_resident) {
            a.data = a_res + resident_offset(ic - i_begin, mc, kMR, K, pc);
          } else {
            pack_a(A, ic, mc, pc, kc, a_blk, a.stride, simd);
          }
          block(ic, mc, jc, nc, kb, a, b);
        }
      }
    }
  } else {
    // B is small and resident: A block by A block (ic, then K), all of B each time.
    float* b_res = buf.b.get(b_all);
    for (int jc = j_begin; jc < j_end; jc += NC) {
      for (int kb = 0; kb < k_blocks; ++kb) {
        const int pc = kb * KC, kc = std::min(KC, K - pc);
        const int nc = std::min(NC, j_end - jc);
        pack_b(B, pc, kc, jc, nc, b_res + resident_offset(jc - j_begin, nc, nr, K, pc),
               static_cast<size_t>(nr) * kc, simd);
      }
    }
    float* a_blk = buf.a.get(static_cast<size_t>(MC) * KC);
    for (int ic = i_begin; ic < i_end; ic += MC) {
      const int mc = std::min(MC, i_end - ic);
      for (int kb = 0; kb < k_blocks; ++kb) {
        const int pc = kb * KC, kc = std::min(KC, K - pc);
        const Packed a{a_blk, static_cast<size_t>(kMR) * kc};
        pack_a(A, ic, mc, pc, kc, a_blk, a.stride, simd);
        if (kb + 1 < k_blocks) {  // the block packed next: the next K block, or the next rows
          prefetch_a_block(A, ic, mc, pc + KC, std::min(KC, K - pc - KC));
        } else if (ic + MC < i_end) {
          prefetch_a_block(A, ic + MC, std::min(MC, i_end - ic - MC), 0, std::min(KC, K));
        }
        for (int jc = j_begin; jc < j_end; jc += NC) {
          const int nc = std::min(NC, j_end - jc);
          const Packed b{b_res + resident_offset(jc - j_begin, nc, nr, K, pc), static_cast<size_t>(nr) * kc};
          block(ic, mc, jc, nc, kb, a, b);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One or two rows (generation with the KV cache feeds one token at a time): a matrix-vector
// product. There is nothing to reuse, every element of B is used once per row, so packing B would
// only add a copy; the speed limit is reading B from memory once. We stream B directly:
//  - B stored as (K, N) rows: out[j0 : j1] += a_k * B[k, j0 : j1] for k = 0 .. K-1 (axpy), the
//    column range j0 .. j1 small enough to stay in L1;
//  - B stored transposed, (N, K) (the LM head's wte): out[j] += dot(a, row j), contiguous.
// Each output element is summed in an order fixed by the shapes, so the thread count still does
// not change the bits.
// ---------------------------------------------------------------------------------------------
constexpr int kGemvMaxRows = 2;
constexpr int kGemvCols = 256;  // columns per work item (1 KB of output, in L1)

void gemv_rows(int M, int N, int K, const MatRef& A, const MatRef& B, float* C, int ldc, bool accumulate,
               const float* bias) {
  const int items = (N + kGemvCols - 1) / kGemvCols;
#pragma omp parallel for schedule(static) if (static_cast <double>(N) * K > 1e5)
  for (int it = 0; it < items; ++it) {
    const int j0 = it * kGemvCols, j1 = std::min(N, j0 + kGemvCols);
    for (int i = 0; i < M; ++i) {
      const float* a = A.data + static_cast<size_t>(i) * A.ld;
      float* c = C + static_cast<size_t>(i) * ldc;
      for (int j = j0; j < j1; ++j) c[j] = (accumulate ? c[j] : 0.0f) + (bias ? bias[j] : 0.0f);
      if (B.transposed) {
        for (int j = j0; j < j1; ++j) c[j] += dot(a, B.data + static_cast<size_t>(j) * B.ld, K);
      } else {
        for (int k = 0; k < K; ++k) axpy(c + j0, a[k], B.data + static_cast<size_t>(k) * B.ld + j0, j1 - j0);
      }
    }
  }
}

}  // namespace

void gemm(int M, int N, int K, MatRef A, MatRef B, float* C, int ldc, bool accumulate, const float* bias) {
  if (M <= 0 || N <= 0) return;
  if (M <= kGemvMaxRows && !A.transposed) {
    gemv_rows(M, N, K, A, B, C, ldc, accumulate, bias);
    return;
  }
  const Simd simd = active_simd();
  const int nr = tile_cols(simd);
  const int m_slivers = (M + kMR - 1) / kMR;
  const int n_slivers = (N + nr - 1) / nr;
  // Below about a million multiply-adds, starting threads costs more than it saves.
  [[maybe_unused]] const bool worth_threads = static_cast<double>(M) * N * std::max(K, 1) > 1e6;

  // Split C between the threads along its longer side (in whole slivers). A thread that takes a
  // range of columns needs all of A (M x K), one that takes a range of rows all of B (K x N), so
  // the longer side is also the one whose operand is the larger. When the columns are split, the
  // threads pack A once, together, into one shared buffer (each packs every nt-th block of it),
  // instead of each packing all of it. Who computes an element changes with the thread count;
  // how it is computed does not.
  const bool split_rows = M > N;
  const size_t a_all = static_cast<size_t>(m_slivers) * kMR * K;
  const bool share_a = !split_rows && worth_threads && max_threads() > 1 && K > 0 && a_all <= kSharedFloats;
  float* a_shared = share_a ? shared_a_buffer().get(a_all) : nullptr;

#pragma omp parallel if (worth_threads)
  {
    const int nt = team_size(), t = thread_rank();
    if (a_shared) {
      pack_a_resident(A, 0, M, K, a_shared, simd, t, nt);
#pragma omp barrier
    }
    const int slivers = split_rows ? m_slivers : n_slivers;
    const int first = static_cast<int>(static_cast<long long>(slivers) * t / nt);
    const int last = static_cast<int>(static_cast<long long>(slivers) * (t + 1) / nt);
    if (first < last) {
      if (split_rows) {
        gemm_block(first * kMR, std::min(M, last * kMR), 0, N, K, A, B, C, ldc, accumulate, bias, simd,
                   nullptr);
      } else {
        gemm_block(0, M, first * nr, std::min(N, last * nr), K, A, B, C, ldc, accumulate, bias, simd,
                   a_shared);
      }
    }
  }
}

void column_sums_add(float* dbias, const float* dout, int M, int N) {
  // Threads take separate groups of columns; each column is summed down the rows in order, its
  // sum held in a register meanwhile: the weighted sum of rows with every weight 1 (1 * x + s,
  // fused or not, is exactly s + x).
  constexpr int kChunk = 256;
  const float one = 1.0f;
  const int chunks = (N + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (static_cast <double>(M) * N > 1e5)
  for (int ch = 0; ch < chunks; ++ch) {
    const int o0 = ch * kChunk, o1 = std::min(N, o0 + kChunk);
    add_weighted_rows_strided(dbias + o0, &one, 0, dout + o0, static_cast<size_t>(N), M, o1 - o0);
  }
}

void linear_forward_fast(float* out, const float* inp, const float* weight, const float* bias, int BT, int C,
                         int OC) {
  gemm(BT, OC, C, MatRef{inp, C, false}, MatRef{weight, OC, false}, out, OC, /*accumulate=*/false, bias);
}

void linear_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                          const float* weight, int BT, int C, int OC) {
  // dinp (BT, C) += dout (BT, OC) @ weight^T (OC, C)
  if (dinp) gemm(BT, C, OC, MatRef{dout, OC, false}, MatRef{weight, OC, true}, dinp, C, true, nullptr);
  // dweight (C, OC) += inp^T (C, BT) @ dout (BT, OC)
  if (dweight) gemm(C, OC, BT, MatRef{inp, C, true}, MatRef{dout, OC, false}, dweight, OC, true, nullptr);
  if (dbias) column_sums_add(dbias, dout, BT, OC);
}

}  // namespace gpt2
