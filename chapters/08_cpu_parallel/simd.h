/// @file simd.h
/// @brief Which vector instructions the fast kernels use, chosen when the program runs.
///
/// The binary is compiled for the baseline of its architecture (any x86-64, any ARMv8), so it runs
/// everywhere. The hot loops exist in up to three versions: a portable one, an AVX2 + FMA one
/// (8 floats per register) and an AVX-512 one (16 floats per register), each compiled with a
/// `target` attribute that allows those instructions in that function only (GPT2_TARGET_AVX2,
/// GPT2_TARGET_AVX512 below). At run time the CPU is asked once (`__builtin_cpu_supports`) which
/// version is safe to call. Compiling a whole file with `-mavx512f` instead would let the linker
/// pick AVX-512 copies of inline library functions for everyone, and the program would crash with
/// "illegal instruction" on a CPU without AVX-512.
///
/// This header is the one place that knows about x86: it includes the intrinsics, defines
/// GPT2_X86 on x86 and the two target attributes, and gives the horizontal sums every kernel
/// uses, so that the kernels add their lanes in one fixed order.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
// GCC 12's AVX-512 intrinsics build their "undefined" registers as `__m512 y = y;`, which its own
// -Wuninitialized then reports inside the header (GCC bug 105593, fixed in 12.3 and 13): silence
// that warning for the header's lines only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#define GPT2_X86 1
/// Lets the compiler use AVX2 and FMA in one function: 16 registers of 8 floats.
#define GPT2_TARGET_AVX2 __attribute__((target("avx2,fma")))
/// Lets the compiler use AVX-512 (F, DQ, BW, VL: the level of every AVX-512 CPU since Skylake-SP)
/// in one function: 32 registers of 16 floats and 8 mask registers.
#define GPT2_TARGET_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
/// AVX-512 plus VNNI (vpdpbusd: int8 dot products of 4 pairs added into int32 lanes), which Intel
/// has since Cascade Lake and AMD since Zen 4: the q8 products of weight_formats.h use it.
#define GPT2_TARGET_AVX512_VNNI \
  __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512vnni,avx2,fma")))
#endif

namespace gpt2 {

/// The instruction sets ("kernel sets") a fast kernel can use, from the least to the most.
enum class Simd {
  portable,  ///< plain C++ the compiler vectorises for the baseline (SSE2 on x86-64, NEON on ARM)
  avx2_fma,  ///< 256-bit AVX2 vectors with fused multiply-add (x86-64 since about 2013)
  avx512,    ///< 512-bit AVX-512 vectors with masks (Intel since Skylake-SP, AMD since Zen 4)
};

/// The best level this CPU supports.
Simd detected_simd();

/// The level the kernels use now: detected_simd(), or less when the environment variable
/// GPT2_SIMD (portable, avx2 or avx512; GPT2_NO_SIMD=1 means portable) or set_simd() asked for
/// less. Throws gpt2::Error naming GPT2_SIMD when its value is not one of those names.
Simd active_simd();

/// Forces a level (tests and the benchmark use it to time and check each). Asking for more than
/// the CPU has selects detected_simd() instead, so a kernel never runs an instruction the CPU
/// lacks.
void set_simd(Simd level);

/// "portable", "avx2+fma" or "avx512".
const char* simd_name(Simd level);

/// True when the CPU has AVX-512 VNNI (and the AVX-512 level above): an extension within the
/// AVX-512 kernel set that only the int8 products use (format_kernels.h).
bool cpu_has_avx512_vnni();

/// The level named by "portable", "avx2" or "avx512" (what GPT2_SIMD accepts); throws gpt2::Error
/// naming `what` (the variable or flag) for anything else.
Simd parse_simd(const char* name, const char* what);

#ifdef GPT2_X86
/// v[0] + ... + v[7] in a fixed order: (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then the last two.
GPT2_TARGET_AVX2 inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// The mask of the first n lanes of a 16-float register (all 16 for n >= 16, none for n <= 0):
/// what a loop's last, partial vector loads and stores with, instead of a scalar tail loop.
GPT2_TARGET_AVX512 inline __mmask16 first_lanes(int n) {
  return n >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n < 0 ? 0 : n)) - 1);
}

/// v[0] + ... + v[15]: the two 8-lane halves added (i + 8), then the 8-lane sum above.
GPT2_TARGET_AVX512 inline float horizontal_sum(__m512 v) {
  return horizontal_sum(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}
#endif

/// How far ahead of its loads a one-row product of the decode step (matvec.h, format_kernels.h)
/// asks for the weights' cache lines itself. A decode step streams every weight from memory once;
/// the hardware prefetcher follows the stream, but not far enough ahead to keep the memory busy
/// while the core converts and multiplies what arrived (bf16 and q8 need several instructions per
/// 64 bytes; float32's dot product waits on its chain of additions). One prefetch per 64 bytes of
/// weights in the AVX-512 q8 kernels and the float32 head; one per 32 bytes in the AVX2 kernels and
/// the AVX-512 bf16 one, where each line is asked for twice (which costs little, and measured
/// faster for bf16 on AMD's Zen 4: format_kernels.cpp), 8 KB ahead: about 200 ns of memory at this
/// speed. The distance was chosen by timing the q8 x q8 product over all of GPT-2 124M's matrices
/// with 256 bytes to 16 KB, and float32's rows of wte with 2 to 16 KB, on the AVX-512 machine of
/// chapter 08's README; the AVX2 kernels use the same distance. A prefetch is only a hint: one
/// past the end of the matrix does nothing.
constexpr int kPrefetchBytes = 8192;

/// Asks for the cache line kPrefetchBytes after `p`.
template <typename T>
inline void prefetch_ahead(const T* p) {
#ifdef GPT2_X86
  _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
#else
  __builtin_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes);
#endif
}

}  // namespace gpt2
