#include "chapters/08_cpu_parallel/dropout_fast.h"

#include <algorithm>

#include "chapters/05_gpt2_model/dropout.h"
#include "chapters/08_cpu_parallel/simd.h"

namespace gpt2 {
namespace {

// The constants of gpt2::Rng (common/rng.h): SplitMix64's increment and two multipliers, then
// xorshift64*'s multiplier.
constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr uint64_t kMix1 = 0xBF58476D1CE4E5B9ull, kMix2 = 0x94D049BB133111EBull;
constexpr uint64_t kStar = 0x2545F4914F6CDD1Dull;

// The plain loops of dropout.h on elements [i0, i1).
void forward_plain(float* out, const float* inp, int64_t i0, int64_t i1, float p, float scale, uint64_t key) {
  for (int64_t i = i0; i < i1; ++i) out[i] = dropout_keep(key, i, p) ? inp[i] * scale : 0.0f;
}

void backward_plain(float* dinp, const float* dout, int64_t i0, int64_t i1, float p, float scale,
                    uint64_t key) {
  for (int64_t i = i0; i < i1; ++i) {
    if (dropout_keep(key, i, p)) dinp[i] += dout[i] * scale;
  }
}

#ifdef GPT2_X86
// a * c mod 2^64 in each 64-bit lane. AVX2 multiplies only 32 x 32 -> 64 bits (the low halves of
// the lanes), so with a = ah 2^32 + al and c = ch 2^32 + cl:
//   a c = al cl + (ah cl + al ch) 2^32 + ah ch 2^64 = al cl + ((ah cl + al ch) mod 2^32) 2^32 (mod 2^64)
__attribute__((target("avx2"))) inline __m256i mul64_avx2(__m256i a, uint64_t c) {
  const __m256i cl = _mm256_set1_epi64x(static_cast<long long>(c & 0xFFFFFFFFull));
  const __m256i ch = _mm256_set1_epi64x(static_cast<long long>(c >> 32));
  const __m256i cross =
      _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), cl), _mm256_mul_epu32(a, ch));
  return _mm256_add_epi64(_mm256_mul_epu32(a, cl), _mm256_slli_epi64(cross, 32));
}

// Rng(seed).next_u32() >> 8 for 4 seeds (one per 64-bit lane), in the low 32 bits of each lane:
// Rng's seeding (SplitMix64), one xorshift64* step, the top 24 of its 32 bits.
__attribute__((target("avx2"))) inline __m256i uniform24_avx2(__m256i seed) {
  __m256i z = _mm256_add_epi64(seed, _mm256_set1_epi64x(static_cast<long long>(kGolden)));
  z = mul64_avx2(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), kMix1);
  z = mul64_avx2(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), kMix2);
  __m256i s = _mm256_or_si256(_mm256_xor_si256(z, _mm256_srli_epi64(z, 31)), _mm256_set1_epi64x(1));
  s = _mm256_xor_si256(s, _mm256_srli_epi64(s, 12));
  s = _mm256_xor_si256(s, _mm256_slli_epi64(s, 25));
  s = _mm256_xor_si256(s, _mm256_srli_epi64(s, 27));
  return _mm256_srli_epi64(mul64_avx2(s, kStar), 40);  // (s * kStar) >> 32, then >> 8
}

// The keep mask of elements i .. i + 7 (all bits set where kept): Rng(key + i).uniform() >= p.
__attribute__((target("avx2"))) inline __m256 keep8_avx2(uint64_t key, int64_t i, __m256 p) {
  const __m256i base = _mm256_set1_epi64x(static_cast<long long>(key + static_cast<uint64_t>(i)));
  const __m256i lo = uniform24_avx2(_mm256_add_epi64(base, _mm256_setr_epi64x(0, 1, 2, 3)));
  const __m256i hi = uniform24_avx2(_mm256_add_epi64(base, _mm256_setr_epi64x(4, 5, 6, 7)));
  // The eight 24-bit numbers sit in the even 32-bit halves: gather them into one register.
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i k = _mm256_permute2x128_si256(_mm256_permutevar8x32_epi32(lo, even),
                                              _mm256_permutevar8x32_epi32(hi, even), 0x20);
  const __m256 u = _mm256_mul_ps(_mm256_cvtepi32_ps(k), _mm256_set1_ps(1.0f / 16777216.0f));
  return _mm256_cmp_ps(u, p, _CMP_GE_OQ);
}

// "avx2" without "fma": nothing here may become a fused multiply-add (the file is also compiled
// with -ffp-contract=off).
__attribute__((target("avx2"))) void forward_avx2(float* out, const float* inp, int64_t i0, int64_t i1,
                                                  float p, float scale, uint64_t key) {
  const __m256 vp = _mm256_set1_ps(p), vs = _mm256_set1_ps(scale);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 keep = keep8_avx2(key, i, vp);
    _mm256_storeu_ps(out + i, _mm256_and_ps(keep, _mm256_mul_ps(_mm256_loadu_ps(inp + i), vs)));
  }
  forward_plain(out, inp, i, i1, p, scale, key);
}

__attribute__((target("avx2"))) void backward_avx2(float* dinp, const float* dout, int64_t i0, int64_t i1,
                                                   float p, float scale, uint64_t key) {
  const __m256 vp = _mm256_set1_ps(p), vs = _mm256_set1_ps(scale);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 keep = keep8_avx2(key, i, vp);
    const __m256 d = _mm256_loadu_ps(dinp + i);
    // Where dropped, dinp keeps its value (not dinp + 0, which would turn -0 into +0).
    const __m256 added = _mm256_add_ps(d, _mm256_mul_ps(_mm256_loadu_ps(dout + i), vs));
    _mm256_storeu_ps(dinp + i, _mm256_blendv_ps(d, added, keep));
  }
  backward_plain(dinp, dout, i, i1, p, scale, key);
}

// The same with AVX-512's 64-bit multiply, 8 seeds per register; the mask is a __mmask8 and the
// floats are 8 lanes (AVX-512VL).
GPT2_TARGET_AVX512 inline __mmask8 keep8_avx512(uint64_t key, int64_t i, __m256 p) {
  const __m512i seed =
      _mm512_add_epi64(_mm512_set1_epi64(static_cast<long long>(key + static_cast<uint64_t>(i))),
                       _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7));
  __m512i z = _mm512_add_epi64(seed, _mm512_set1_epi64(static_cast<long long>(kGolden)));
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 30)),
                         _mm512_set1_epi64(static_cast<long long>(kMix1)));
  z = _mm512_mullo_epi64(_mm512_xor_si512(z, _mm512_srli_epi64(z, 27)),
                         _mm512_set1_epi64(static_cast<long long>(kMix2)));
  __m512i s = _mm512_or_si512(_mm512_xor_si512(z, _mm512_srli_epi64(z, 31)), _mm512_set1_epi64(1));
  s = _mm512_xor_si512(s, _mm512_srli_epi64(s, 12));
  s = _mm512_xor_si512(s, _mm512_slli_epi64(s, 25));
  s = _mm512_xor_si512(s, _mm512_srli_epi64(s, 27));
  const __m512i k =
      _mm512_srli_epi64(_mm512_mullo_epi64(s, _mm512_set1_epi64(static_cast<long long>(kStar))), 40);
  const __m256 u =
      _mm256_mul_ps(_mm256_cvtepi32_ps(_mm512_cvtepi64_epi32(k)), _mm256_set1_ps(1.0f / 16777216.0f));
  return _mm256_cmp_ps_mask(u, p, _CMP_GE_OQ);
}

GPT2_TARGET_AVX512 void forward_avx512(float* out, const float* inp, int64_t i0, int64_t i1, float p,
                                       float scale, uint64_t key) {
  const __m256 vp = _mm256_set1_ps(p), vs = _mm256_set1_ps(scale);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    _mm256_storeu_ps(out + i, _mm256_maskz_mul_ps(keep8_avx512(key, i, vp), _mm256_loadu_ps(inp + i), vs));
  }
  forward_plain(out, inp, i, i1, p, scale, key);
}

GPT2_TARGET_AVX512 void backward_avx512(float* dinp, const float* dout, int64_t i0, int64_t i1, float p,
                                        float scale, uint64_t key) {
  const __m256 vp = _mm256_set1_ps(p), vs = _mm256_set1_ps(scale);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    const __m256 d = _mm256_loadu_ps(dinp + i);
    const __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(dout + i), vs);
    _mm256_storeu_ps(dinp + i, _mm256_mask_add_ps(d, keep8_avx512(key, i, vp), d, scaled));
  }
  backward_plain(dinp, dout, i, i1, p, scale, key);
}
#endif

// The range [i0, i1) on the active kernel set.
void forward_range(Simd simd, float* out, const float* inp, int64_t i0, int64_t i1, float p, float scale,
                   uint64_t key) {
#ifdef GPT2_X86
  if (simd == Simd::avx512) return forward_avx512(out, inp, i0, i1, p, scale, key);
  if (simd == Simd::avx2_fma) return forward_avx2(out, inp, i0, i1, p, scale, key);
#endif
  (void)simd;
  forward_plain(out, inp, i0, i1, p, scale, key);
}

void backward_range(Simd simd, float* dinp, const float* dout, int64_t i0, int64_t i1, float p, float scale,
                    uint64_t key) {
#ifdef GPT2_X86
  if (simd == Simd::avx512) return backward_avx512(dinp, dout, i0, i1, p, scale, key);
  if (simd == Simd::avx2_fma) return backward_avx2(dinp, dout, i0, i1, p, scale, key);
#endif
  (void)simd;
  backward_plain(dinp, dout, i0, i1, p, scale, key);
}

// Elements per work item. Each element's mask depends on its index alone, so how the threads
// split the items changes nothing.
constexpr int64_t kChunk = 1 << 14;

template <typename Range>
void over_chunks(int64_t n, Range range) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t ch = 0; ch < chunks; ++ch) range(ch * kChunk, std::min(n, (ch + 1) * kChunk));
}

}  // namespace

void dropout_forward_fast(float* out, const float* inp, int64_t n, float p, uint64_t key) {
  const float scale = 1.0f / (1.0f - p);
  const Simd simd = active_simd();
  over_chunks(n, [&](int64_t i0, int64_t i1) { forward_range(simd, out, inp, i0, i1, p, scale, key); });
}

void dropout_backward_fast(float* dinp, const float* dout, int64_t n, float p, uint64_t key) {
  const float scale = 1.0f / (1.0f - p);
  const Simd simd = active_simd();
  over_chunks(n, [&](int64_t i0, int64_t i1) { backward_range(simd, dinp, dout, i0, i1, p, scale, key); });
}

}  // namespace gpt2
