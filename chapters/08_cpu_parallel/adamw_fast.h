/// @file adamw_fast.h
/// @brief AdamW with AVX2 or AVX-512: the fast twin of chapter 06's adamw_update, equal to it bit
/// for bit.
///
/// AdamW touches every one of GPT-2 124M's 124 million parameters once per step, reading
/// param, grad, m, v and writing param, m, v: 28 bytes per parameter, 3.5 GB per step. That is a
/// memory-bandwidth problem, not arithmetic, but the plain loop's scalar square root and two
/// divisions per element (about 10 cycles) keep it from reaching the bandwidth. The AVX2 (AVX-512)
/// version does 8 (16) elements per instruction, in exactly the plain loop's order of operations. Square root
/// and division are correctly rounded in IEEE arithmetic, scalar or vector, and we do not allow
/// fused multiply-add here, so the result is identical bit for bit (the test checks it).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt2 {

/// Same arguments and result as adamw_update (chapter 06).
void adamw_update_fast(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                       float beta1, float beta2, float eps, float weight_decay);

}  // namespace gpt2
