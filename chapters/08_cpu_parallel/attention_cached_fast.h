/// @file attention_cached_fast.h
/// @brief The attention over a KV cache (chapter 07), parallel and with AVX2: the fast twin of
/// chapter 05's attention_forward_cached (kv_cache.h), same arguments, same meaning.
///
///  - the new keys and values are copied into the cache row by row (memcpy of HS floats);
///  - every (sequence, new position, head) triple is independent: OpenMP hands them to the
///    threads in fixed blocks, and each one is computed by one thread from start to end, so the
///    result does not depend on the thread count;
///  - a triple scores its pos0 + t + 1 visible keys with dots() (the keys of one head are a
///    contiguous (maxT, HS) matrix in the cache), takes the stable softmax, and adds the weighted
///    values with add_weighted_rows(), exactly as attention_fast.h does for one row: the cached
///    step gives the bits of the fast attention over the whole sequence;
///  - a decode step (T = 1) over a short text is a few thousand flops per head: below a threshold
///    it stays on the calling thread, because waking the others would cost more.
#pragma once

namespace gpt2 {

/// out (B, T, C) from qkv (B, T, 3C) of the new positions pos0 .. pos0 + T - 1, after writing
/// their keys and values into k_cache, v_cache (B, NH, maxT, HS).
void attention_forward_cached_fast(float* out, float* k_cache, float* v_cache, const float* qkv, int B, int T,
                                   int pos0, int maxT, int C, int NH);

}  // namespace gpt2
