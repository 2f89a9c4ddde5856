#include "chapters/08_cpu_parallel/fast_backend.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "chapters/06_training/grad_clip.h"
#include "chapters/08_cpu_parallel/adamw_fast.h"
#include "chapters/08_cpu_parallel/attention_cached_fast.h"
#include "chapters/08_cpu_parallel/attention_fast.h"
#include "chapters/08_cpu_parallel/cross_entropy_fast.h"
#include "chapters/08_cpu_parallel/dropout_fast.h"
#include "chapters/08_cpu_parallel/gelu_fast.h"
#include "chapters/08_cpu_parallel/large_pages.h"
#include "chapters/08_cpu_parallel/layernorm_fast.h"
#include "chapters/08_cpu_parallel/matmul.h"
#include "chapters/08_cpu_parallel/matvec.h"
#include "chapters/08_cpu_parallel/reduce.h"

namespace gpt2 {

namespace {
// Element-wise loops are memory-bound; chunks of 64K floats (256 KB) spread them over the threads.
constexpr long long kChunk = 1 << 16;
long long chunks_of(size_t n) {
  return static_cast<long long>((n + kChunk - 1) / kChunk);
}
}  // namespace

// The parameters, gradients, moments, activations and KV cache: big arrays, on 2 MB pages.
void* FastCpuBackend::allocate(size_t bytes) {
  return allocate_large(bytes);
}

void FastCpuBackend::free(void* p) {
  free_large(p);
}

void FastCpuBackend::zero(float* p, size_t n) {
#pragma omp parallel for schedule(static) if (chunks_of(n) > 1)
  for (long long ch = 0; ch < chunks_of(n); ++ch) {
    const size_t i0 = static_cast<size_t>(ch) * kChunk;
    std::memset(p + i0, 0, sizeof(float) * std::min<size_t>(kChunk, n - i0));
  }
}

void FastCpuBackend::layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                                       const float* weight, const float* bias, int N, int C, float eps) {
  layernorm_forward_fast(out, mean, rstd, inp, weight, bias, N, C, eps);
}

void FastCpuBackend::layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                        const float* inp, const float* weight, const float* mean,
                                        const float* rstd, int N, int C) {
  layernorm_backward_fast(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C);
}

void FastCpuBackend::linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                                    int N, int C, int OC) {
  // One row (a decode step) streams the weights at memory speed; many rows are a real gemm.
  if (N == 1) {
    matvec_conv1d(out, inp, weight, bias, C, OC);
  } else {
    linear_forward_fast(out, inp, weight, bias, N, C, OC);
  }
}

void FastCpuBackend::linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                     const float* inp, const float* weight, int N, int C, int OC) {
  linear_backward_fast(dinp, dweight, dbias, dout, inp, weight, N, C, OC);
}

void FastCpuBackend::lm_head_forward(float* logits, const float* inp, const float* wte, int N, int C, int V) {
  // logits (N, V) = inp (N, C) @ wte^T (C, V); one row: V dot products with wte's rows.
  if (N == 1) {
    matvec_rows(logits, wte, inp, V, C);
  } else {
    gemm(N, V, C, MatRef{inp, C, false}, MatRef{wte, C, true}, logits, V, false, nullptr);
  }
}

void FastCpuBackend::lm_head_backward(float* dinp, float* dwte, const float* dlogits, const float* inp,
                                      const float* wte, int N, int C, int V) {
  // dinp (N, C) += dlogits (N, V) @ wte (V, C);  dwte (V, C) += dlogits^T (V, N) @ inp (N, C)
  if (dinp) gemm(N, C, V, MatRef{dlogits, V, false}, MatRef{wte, C, false}, dinp, C, true, nullptr);
  if (dwte) gemm(V, C, N, MatRef{dlogits, V, true}, MatRef{inp, C, false}, dwte, C, true, nullptr);
}

void FastCpuBackend::attention_forward(float* out, float* qkvh, float* att, const float* qkv, int B, int T,
                                       int C, int NH) {
  multihead_attention_forward_fast(out, qkvh, att, qkv, B, T, C, NH);
}

void FastCpuBackend::attention_backward(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                        int B, int T, int C, int NH) {
  multihead_attention_backward_fast(dqkv, dout, qkvh, att, B, T, C, NH);
}

void FastCpuBackend::attention_forward_cached(float* out, float* k_cache, float* v_cache, const float* qkv,
                                              int B, int T, int pos0, int maxT, int C, int NH) {
  attention_forward_cached_fast(out, k_cache, v_cache, qkv, B, T, pos0, maxT, C, NH);
}

void FastCpuBackend::gelu_forward(float* out, const float* inp, int n) {
  gelu_forward_fast(out, inp, n);
}

void FastCpuBackend::gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  gelu_backward_fast(dinp, inp, dout, n);
}

void FastCpuBackend::residual_forward(float* out, const float* a, const float* b, int n) {
#pragma omp parallel for schedule(static) if (n > kChunk)
  for (int i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

void FastCpuBackend::residual_backward(float* da, float* db, const float* dout, int n) {
#pragma omp parallel for schedule(static) if (n > kChunk)
  for (int i = 0; i < n; ++i) {
    da[i] += dout[i];
    db[i] += dout[i];
  }
}

// Dropout: dropout_fast.h, the plain loops' bits with the masks drawn 4 or 8 at a time.
void FastCpuBackend::dropout_forward(float* out, const float* inp, int n, float p, uint64_t key) {
  dropout_forward_fast(out, inp, n, p, key);
}

void FastCpuBackend::dropout_backward(float* dinp, const float* dout, int n, float p, uint64_t key) {
  dropout_backward_fast(dinp, dout, n, p, key);
}

void FastCpuBackend::cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets,
                                           int N, int V) {
  cross_entropy_forward_fast(losses, lse, logits, targets, N, V);
}

void FastCpuBackend::cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                                            const int* targets, float dloss, int N, int V) {
  cross_entropy_backward_fast(dlogits, logits, lse, targets, dloss, N, V);
}

double FastCpuBackend::grad_norm(const float* grad, size_t n) {
  std::vector<double> partial((n + kNormChunk - 1) / kNormChunk);
  sum_squares_chunks_fast(grad, n, partial.data());
  return norm_of_chunk_sums(partial.data(), partial.size());
}

void FastCpuBackend::scale(float* grad, size_t n, float s) {
  scale_grads(grad, n, s);
}

void FastCpuBackend::add(float* acc, const float* x, size_t n) {
  add_grads(acc, x, n);  // memory-bound: the plain loop, vectorised by the compiler, is as fast
}

void FastCpuBackend::sum_squares_chunks(const float* grad, size_t n, double* sums) {
  sum_squares_chunks_fast(grad, n, sums);
}

void FastCpuBackend::adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step,
                                  float lr, float beta1, float beta2, float eps, float weight_decay) {
  adamw_update_fast(param, grad, m, v, n, step, lr, beta1, beta2, eps, weight_decay);
}

bool plain_kernels_requested() {
  const char* env = std::getenv("GPT2_PLAIN_KERNELS");
  return env && std::strcmp(env, "") != 0 && std::strcmp(env, "0") != 0;
}

std::unique_ptr<Backend> make_cpu_backend(bool plain) {
  if (plain) return std::make_unique<CpuBackend>();
  return std::make_unique<FastCpuBackend>();
}

}  // namespace gpt2
