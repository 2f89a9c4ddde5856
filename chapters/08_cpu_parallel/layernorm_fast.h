/// @file layernorm_fast.h
/// @brief LayerNorm, parallel over rows, with a deterministic parameter-gradient reduction: the
/// fast twins of chapter 04's layernorm.h.
///
/// Forward: rows are independent; each thread normalises whole rows, with AVX2 sums for the mean
/// and the variance (8 partial sums, added in a fixed order).
///
/// Backward: dinp is per row again (AVX2 sums for its two row means), but dweight and dbias are
/// sums over all N rows. Letting each
/// thread sum its own rows and then adding the threads' partial sums would make the result depend
/// on the thread count (float addition is not associative). Instead a second loop gives each
/// thread whole *columns*: dweight[c] and dbias[c] are summed over the rows in order 0 .. N-1,
/// the same order as the plain loop, whatever the thread count.
#pragma once

namespace gpt2 {

/// Same arguments and meaning as layernorm_forward (chapter 04), in float.
void layernorm_forward_fast(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                            const float* bias, int N, int C, float eps);

/// Same arguments and meaning as layernorm_backward (chapter 04): adds into dinp, dweight, dbias.
void layernorm_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                             const float* weight, const float* mean, const float* rstd, int N, int C);

}  // namespace gpt2
