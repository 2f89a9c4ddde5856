/// @file dropout_fast.h
/// @brief Dropout with AVX2 or AVX-512: the fast twin of chapter 05's dropout (dropout.h), equal
/// to it bit for bit.
///
/// Dropout's arithmetic is one multiply per element; its cost is the mask. Element i of a site
/// with key k is kept when Rng(k + i).uniform() >= p: one round of SplitMix64 to seed the
/// generator and one of xorshift64*, four 64-bit multiplies and a dozen shifts and exclusive ors
/// per element. The plain loop does them one element at a time: in the main job's training step
/// (nine dropout sites, each forward and backward) that was 6% of the time on a 2-core Intel
/// Xeon, more than any operation but the matrix products and attention. The vector versions compute the same
/// integers for 4 (AVX2) or 8 (AVX-512) elements at once. AVX2 has no 64-bit multiply, so it builds one from
/// three 32 x 32 -> 64-bit multiplies (mul64_avx2 in dropout_fast.cpp); AVX-512 has one (`vpmullq`,
/// AVX-512DQ). Integer arithmetic is exact, so every kernel set draws the same mask, and the multiply by 1 /
/// (1 - p) and the add of the backward pass are the plain loop's (no fused multiply-add: the file is compiled
/// with -ffp-contract=off). The test checks the bits against chapter 05's loops.
#pragma once

#include <cstdint>

namespace gpt2 {

/// out (n) = keep * inp / (1 - p), the mask of the site with key `key`, as dropout.h's
/// dropout_forward(out, inp, n, p, key). out may be inp.
void dropout_forward_fast(float* out, const float* inp, int64_t n, float p, uint64_t key);

/// dinp (n) += keep * dout / (1 - p), as dropout.h's dropout_backward(dinp, dout, n, p, key).
void dropout_backward_fast(float* dinp, const float* dout, int64_t n, float p, uint64_t key);

}  // namespace gpt2
