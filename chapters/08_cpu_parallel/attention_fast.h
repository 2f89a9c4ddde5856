/// @file attention_fast.h
/// @brief Causal multi-head attention, parallel over (batch, head), skipping the masked half.
///
/// The same functions as chapter 04's multihead_attention_forward / _backward (same arguments,
/// same buffers, same meaning), organised for speed:
///  - the B * NH (batch, head) pairs are independent, so OpenMP hands them to the threads; each
///    pair is computed by one thread from start to end, so the result does not depend on the
///    thread count;
///  - for query t only the t + 1 visible keys are scored: the masked half of the T x T scores is
///    never computed (the plain code skips it too; a dense matrix product would not);
///  - scores, the stable softmax (subtract the row maximum before exp) and the weighted sum of
///    values are fused in one pass over a row, which stays in L1;
///  - the heads are read from and written to the (B, T, C) layouts directly: no temporary
///    (B, NH, T, HS) copy of the output or of the gradients;
///  - the dot products, the softmax's exps and the weighted sums of rows over HS use AVX2 or
///    AVX-512 (vector_ops.h), the sums held in registers while their terms are added;
///  - the backward pass goes over the queries (dq, and the rows of dS), then over the keys: dv_s
///    and dk_s are sums over one column of P and dS, each key's sum added up in registers.
///
/// PyTorch: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).
#pragma once

namespace gpt2 {

/// One query's attention over n keys and values (rows of HS floats): p (n) = softmax(q . K_s *
/// scale) over s < n, then o (HS) = sum_s p_s V_s (o is overwritten). The row that both the full
/// attention below and the attention over a KV cache (attention_cached_fast.h) compute, so that
/// the two give the same bits.
void attention_row_fast(float* o, float* p, const float* q, const float* K, const float* V, int n, int HS,
                        float scale);

/// out (B, T, C) = causal multi-head attention of qkv (B, T, 3C); writes the heads qkvh
/// (3, B, NH, T, HS) and the weights att (B, NH, T, T, zeros above the diagonal) for the backward.
void multihead_attention_forward_fast(float* out, float* qkvh, float* att, const float* qkv, int B, int T,
                                      int C, int NH);

/// dqkv (B, T, 3C) += the gradient of multihead_attention_forward_fast, given dout (B, T, C) and
/// the saved qkvh and att.
void multihead_attention_backward_fast(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                       int B, int T, int C, int NH);

}  // namespace gpt2
