// CpuBackend: every operation is the chapter's plain template instantiated for float.
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "chapters/02_embeddings/embedding.h"
#include "chapters/04_transformer_block/gelu.h"
#include "chapters/04_transformer_block/layernorm.h"
#include "chapters/04_transformer_block/linear.h"
#include "chapters/04_transformer_block/multihead_attention.h"
#include "chapters/04_transformer_block/residual.h"
#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/05_gpt2_model/dropout.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/05_gpt2_model/lm_head.h"
#include "common/error.h"

namespace gpt2 {

std::vector<float> to_host(Backend& backend, const float* p, size_t n) {
  std::vector<float> host(n);
  backend.copy_to_host(host.data(), p, n * sizeof(float));
  return host;
}

void* CpuBackend::allocate(size_t bytes) {
  // 64-byte alignment (a cache line; what chapter 08's SIMD loads like); aligned_alloc wants
  // the size to be a multiple of the alignment.
  size_t rounded = (std::max<size_t>(bytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  GPT2_CHECK(p != nullptr, "out of memory allocating ", bytes, " bytes");
  std::memset(p, 0, rounded);
  return p;
}

void CpuBackend::free(void* p) {
  std::free(p);
}

void CpuBackend::copy_to_device(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
}

void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
}

void CpuBackend::copy(void* dst, const void* src, size_t bytes) {
  std::memcpy(dst, src, bytes);
}

void CpuBackend::zero(float* p, size_t n) {
  std::memset(p, 0, n * sizeof(float));
}

double CpuBackend::sum(const float* x, size_t n) {
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += x[i];  // in index order: fixed by n alone
  return total;
}

void CpuBackend::encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B,
                                 int T, int C) {
  gpt2::encoder_forward(out, tokens, wte, wpe, B, T, C);
}

void CpuBackend::encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B,
                                  int T, int C) {
  gpt2::encoder_backward(dwte, dwpe, dout, tokens, B, T, C);
}

void CpuBackend::layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                                   const float* weight, const float* bias, int N, int C, float eps) {
  gpt2::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}

void CpuBackend::layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                    const float* inp, const float* weight, const float* mean,
                                    const float* rstd, int N, int C) {
  gpt2::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void CpuBackend::linear_forward(float* out, const float* inp, const float* weight, const float* bias, int N,
                                int C, int OC) {
  gpt2::linear_forward(out, inp, weight, bias, N, C, OC);
}

void CpuBackend::linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                 const float* inp, const float* weight, int N, int C, int OC) {
  gpt2::linear_backward(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}

void CpuBackend::lm_head_forward(float* logits, const float* inp, const float* wte, int N, int C, int V) {
  gpt2::lm_head_forward(logits, inp, wte, N, C, V);
}

void CpuBackend::lm_head_backward(float* dinp, float* dwte, const float* dlogits, const float* inp,
                                  const float* wte, int N, int C, int V) {
  gpt2::lm_head_backward(dinp, dwte, dlogits, inp, wte, N, C, V);
}

void CpuBackend::attention_forward(float* out, float* qkvh, float* att, const float* qkv, int B, int T, int C,
                                   int NH) {
  gpt2::multihead_attention_forward(out, qkvh, att, qkv, B, T, C, NH);
}

void CpuBackend::attention_backward(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                    int B, int T, int C, int NH) {
  gpt2::multihead_attention_backward(dqkv, dout, qkvh, att, B, T, C, NH);
}

void CpuBackend::attention_forward_cached(float* out, float* k_cache, float* v_cache, const float* qkv, int B,
                                          int T, int pos0, int maxT, int C, int NH) {
  gpt2::attention_forward_cached(out, k_cache, v_cache, qkv, B, T, pos0, maxT, C, NH);
}

void CpuBackend::gelu_forward(float* out, const float* inp, int n) {
  gpt2::gelu_forward(out, inp, n);
}

void CpuBackend::gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  gpt2::gelu_backward(dinp, inp, dout, n);
}

void CpuBackend::residual_forward(float* out, const float* a, const float* b, int n) {
  gpt2::residual_forward(out, a, b, n);
}

void CpuBackend::residual_backward(float* da, float* db, const float* dout, int n) {
  gpt2::residual_backward(da, db, dout, n);
}

void CpuBackend::dropout_forward(float* out, const float* inp, int n, float p, uint64_t key) {
  gpt2::dropout_forward(out, inp, n, p, key);
}

void CpuBackend::dropout_backward(float* dinp, const float* dout, int n, float p, uint64_t key) {
  gpt2::dropout_backward(dinp, dout, n, p, key);
}

// The plain attention with dropout draws the mask of the (B, NH, T, T) weights into a byte array
// and hands it to chapter 03's loops; the backward draws the same mask again from the same key.
void CpuBackend::attention_forward_dropout(float* out, float* qkvh, float* att, const float* qkv, int B,
                                           int T, int C, int NH, float p, uint64_t key) {
  std::vector<uint8_t> keep(static_cast<size_t>(B) * NH * T * T);
  dropout_mask(keep.data(), static_cast<int64_t>(keep.size()), p, key);
  gpt2::multihead_attention_forward(out, qkvh, att, qkv, B, T, C, NH, keep.data(), p);
}

void CpuBackend::attention_backward_dropout(float* dqkv, const float* dout, const float* qkvh,
                                            const float* att, int B, int T, int C, int NH, float p,
                                            uint64_t key) {
  std::vector<uint8_t> keep(static_cast<size_t>(B) * NH * T * T);
  dropout_mask(keep.data(), static_cast<int64_t>(keep.size()), p, key);
  gpt2::multihead_attention_backward(dqkv, dout, qkvh, att, B, T, C, NH, keep.data(), p);
}

void CpuBackend::cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets,
                                       int N, int V) {
  gpt2::cross_entropy_forward(losses, lse, logits, targets, N, V);
}

void CpuBackend::cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                                        const int* targets, float dloss, int N, int V) {
  gpt2::cross_entropy_backward(dlogits, logits, lse, targets, dloss, N, V);
}

}  // namespace gpt2
