/// @file kernels.h
/// @brief The GPU kernels the CUDA backend runs, as plain host functions over device pointers.
///
/// Each function launches one or two kernels on the default stream and checks the launch
/// (cuda_check.h); it returns before the GPU has finished. All pointers are device pointers; the
/// shapes, the maths and the "backward passes add" rule are those of the CPU ops named in each
/// comment, which the tests compare against element by element. The kernels themselves live in
/// the `.cu` files, one concept per file; this header needs no CUDA compiler to include.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpt2::cuda {

// ----- embeddings (encoder.cu; CPU: chapters/02_embeddings/embedding.h) ------------------------
/// out (B, T, C) = wte[tokens] + wpe[0:T]. One thread per output element.
void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T, int C);
/// dwpe (maxT, C) += sum over b of dout (B, T, C). One thread per (t, c), summing over b in
/// order: deterministic.
void encoder_backward_wpe(float* dwpe, const float* dout, int B, int T, int C);
/// dwte (V, C) += scatter of dout (n = B T rows of C): row i goes to token tokens[i]. Many
/// positions can hold the same token; rather than racing with atomicAdd (whose order, and so
/// rounding, changes from run to run), the positions are first put in the order (token, position)
/// on the GPU (`sorted`: n ints of scratch), then one block per distinct token adds its
/// positions' rows in increasing order: the same result on every run, and nothing goes through
/// the host.
void encoder_backward_wte(float* dwte, const float* dout, const int* tokens, int* sorted, int n, int C);

// ----- LayerNorm (layernorm.cu; CPU: chapters/04_transformer_block/layernorm.h) ----------------
/// out (N, C), mean (N), rstd (N). One warp (32 threads) per row.
void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, float eps);
/// dinp (N, C) += ... (one warp per row); dweight, dbias (C) += ..., reduced over rows in fixed
/// chunks into `scratch` (at least layernorm_backward_scratch_floats(N, C) floats), then the chunks
/// summed in order: deterministic.
void layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                        const float* weight, const float* mean, const float* rstd, int N, int C,
                        float* scratch);
/// Scratch floats layernorm_backward and column_sum_add need.
size_t column_reduce_scratch_floats(int N, int C);

// ----- sums over rows (reduce.cu) -------------------------------------------------------------
/// out (C) += sum over rows of inp (N, C): the bias gradient of a linear layer. Two stages over
/// fixed chunks of rows (scratch: column_reduce_scratch_floats(N, C)), deterministic.
void column_sum_add(float* out, const float* inp, int N, int C, float* scratch);
/// out (C) += sum over k of partial (chunks, C), k in order: the second stage of the two above.
void sum_chunks_add(float* out, const float* partial, int chunks, int C);
/// The number of row chunks of the two-stage reductions (fixed, so results do not depend on the GPU).
inline constexpr int kReduceChunks = 32;
/// out (N, C) += bias (C) broadcast over the rows.
void add_bias(float* out, const float* bias, int N, int C);
/// *result (one double, device memory) = sum of x (n floats), in double: each of 1024 threads adds
/// the elements i = thread, thread + 1024, ... in order, then a fixed tree adds the threads'
/// sums. The same bits on every run (the model's loss).
void sum_to_double(double* result, const float* x, size_t n);
/// *result (one double, device memory) = sum of x_i^2 (n floats): chunks of `chunk` elements,
/// each summed by one block in double in a fixed tree (into partial, ceil(n / chunk) doubles),
/// then the partial sums added in chunk order. The global gradient norm's square.
void sum_squares_to_double(double* result, double* partial, const float* x, size_t n, size_t chunk);

// ----- element-wise (elementwise.cu; CPU: chapters/04_transformer_block/gelu.h, residual.h) ----
/// out (n) = GELU(inp), tanh form.
void gelu_forward(float* out, const float* inp, size_t n);
/// dinp (n) += GELU'(inp) dout.
void gelu_backward(float* dinp, const float* inp, const float* dout, size_t n);
/// out (n) = a + b.
void residual_forward(float* out, const float* a, const float* b, size_t n);
/// da += dout, db += dout.
void residual_backward(float* da, float* db, const float* dout, size_t n);
/// p (n) = 0.
void fill_zero(float* p, size_t n);
/// p (n) *= s.
void scale(float* p, size_t n, float s);

// ----- dropout (dropout.cu; CPU: chapters/05_gpt2_model/dropout.h) ------------------------------
/// out (n) = inp (n) * keep / (1 - p), element i kept when dropout_keep(key, i, p); out may be inp.
void dropout_forward(float* out, const float* inp, size_t n, float p, uint64_t key);
/// dinp (n) += dout (n) * keep / (1 - p), the same mask.
void dropout_backward(float* dinp, const float* dout, size_t n, float p, uint64_t key);

// ----- loss (cross_entropy.cu; CPU: chapters/05_gpt2_model/cross_entropy.h) --------------------
/// losses (N), lse (N) from logits (N, V), targets (N) (-1: none). One block per row.
void cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets, int N, int V);
/// dlogits (N, V) += dloss (softmax(logits) - onehot(targets)). One block per row.
void cross_entropy_backward(float* dlogits, const float* logits, const float* lse, const int* targets,
                            float dloss, int N, int V);

// ----- attention pieces (attention.cu; CPU: chapters/04_transformer_block/multihead_attention.h)
/// heads (parts, B, NH, T, HS) = x (B, T, parts C) cut into heads (chapter 04's split_heads).
void split_heads(float* heads, const float* x, int parts, int B, int T, int C, int NH);
/// x (B, T, parts C) += heads (parts, B, NH, T, HS) (chapter 04's merge_heads_add).
void merge_heads_add(float* x, const float* heads, int parts, int B, int T, int C, int NH);
/// In place on att (BH, T, T) holding the scaled scores: row t becomes the softmax of its first
/// t + 1 entries followed by zeros (the causal mask). One warp per row.
void causal_softmax_forward(float* att, int BH, int T);
/// In place on datt (BH, T, T) holding dL/dP: becomes dL/dS = P (dP - sum_s P dP), 0 above the
/// diagonal. One warp per row.
void causal_softmax_backward(float* datt, const float* att, int BH, int T);

// ----- attention over a KV cache (attention_cached.cu; CPU: chapters/05_gpt2_model/kv_cache.h) --
/// The k and v parts of qkv (B, T, 3C) into rows pos0 .. pos0 + T - 1 of k_cache, v_cache
/// (B, NH, maxT, HS); then out (B, T, C): the query of position pos0 + t attends to rows
/// 0 .. pos0 + t of its head. One block per (sequence, new position, head).
void attention_forward_cached(float* out, float* k_cache, float* v_cache, const float* qkv, int B, int T,
                              int pos0, int maxT, int C, int NH);

// ----- AdamW (adamw.cu; CPU: chapters/06_training/adamw.h) -------------------------------------
/// The same update as gpt2::adamw_update, element for element and operation for operation (no
/// fused multiply-adds), on device memory: the result is bit-identical to the CPU's.
void adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step, float lr,
                  float beta1, float beta2, float eps, float weight_decay);

}  // namespace gpt2::cuda
