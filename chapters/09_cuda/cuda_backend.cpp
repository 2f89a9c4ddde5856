// CudaBackend: each Backend call as GPU kernels (kernels.h) and cuBLAS products (cublas_ops.h).
#include "chapters/09_cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "chapters/09_cuda/cuda_check.h"
#include "chapters/09_cuda/device.h"
#include "chapters/09_cuda/kernels.h"
#include "common/error.h"

namespace gpt2 {

CudaBackend::CudaBackend() : CudaBackend(Options{}) {}

CudaBackend::CudaBackend(Options options) {
  const cuda::DeviceStatus status = cuda::cuda_device_status();
  GPT2_CHECK(status.usable, "CudaBackend: ", cuda::describe(status));
  blas_ = std::make_unique<cuda::Blas>();
  blas_->set_tf32(options.tf32);
}

CudaBackend::~CudaBackend() {
  // Destructors must not throw: release without checking.
  (void)cudaDeviceSynchronize();
  if (scratch_) (void)cudaFree(scratch_);
  if (scratch_int_) (void)cudaFree(scratch_int_);
}

// ----- memory ------------------------------------------------------------------------------------

void* CudaBackend::allocate(size_t bytes) {
  // cudaMalloc returns memory aligned to at least 256 bytes, more than the 64 the interface asks.
  void* p = nullptr;
  const size_t n = std::max<size_t>(bytes, 1);
  GPT2_CUDA_CHECK(cudaMalloc(&p, n));
  GPT2_CUDA_CHECK(cudaMemset(p, 0, n));
  return p;
}

void CudaBackend::free(void* p) {
  // Called from destructors (BackendBuffer), so it must not throw; a failure here would be an
  // earlier asynchronous error, which the next checked call reports.
  if (p) (void)cudaFree(p);
}

void CudaBackend::copy_to_device(void* dst, const void* src, size_t bytes) {
  if (bytes) GPT2_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  // cudaMemcpy waits for the kernels queued before it: the host sees finished results.
  if (bytes) GPT2_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void CudaBackend::zero(float* p, size_t n) {
  if (n) GPT2_CUDA_CHECK(cudaMemset(p, 0, n * sizeof(float)));
}

void CudaBackend::synchronize() {
  GPT2_CUDA_CHECK(cudaDeviceSynchronize());
}

void* CudaBackend::grow(void*& buffer, size_t& capacity, size_t bytes) {
  if (bytes > capacity) {
    // Kernels queued earlier may still read the old buffer: wait before freeing it.
    GPT2_CUDA_CHECK(cudaDeviceSynchronize());
    if (buffer) GPT2_CUDA_CHECK(cudaFree(buffer));
    buffer = nullptr;
    capacity = 0;
    GPT2_CUDA_CHECK(cudaMalloc(&buffer, bytes));
    capacity = bytes;
  }
  return buffer;
}

float* CudaBackend::scratch_floats(size_t n) {
  return static_cast<float*>(grow(scratch_, scratch_bytes_, n * sizeof(float)));
}

int* CudaBackend::scratch_ints(size_t n) {
  return static_cast<int*>(grow(scratch_int_, scratch_int_bytes_, n * sizeof(int)));
}

// ----- embeddings --------------------------------------------------------------------------------

void CudaBackend::encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B,
                                  int T, int C) {
  cuda::encoder_forward(out, tokens, wte, wpe, B, T, C);
}

void CudaBackend::encoder_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B,
                                   int T, int C) {
  if (dwpe) cuda::encoder_backward_wpe(dwpe, dout, B, T, C);
  if (!dwte) return;
  // Many positions can hold the same token, and their gradients go to the same row of dwte.
  // Rather than racing with atomicAdd (whose order, and so rounding, changes from run to run),
  // group the positions by token on the host (B T ints, a few kilobytes) and give each distinct
  // token one block that adds its positions in increasing order.
  const int BT = B * T;
  host_tokens_.resize(static_cast<size_t>(BT));
  copy_to_host(host_tokens_.data(), tokens, static_cast<size_t>(BT) * sizeof(int));
  std::vector<int> order(static_cast<size_t>(BT));
  for (int i = 0; i < BT; ++i) order[static_cast<size_t>(i)] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return host_tokens_[static_cast<size_t>(a)] < host_tokens_[static_cast<size_t>(b)];
  });
  // host_buckets_ = [bucket_token (K) | bucket_start (K + 1) | bucket_pos (BT)]
  std::vector<int> bucket_token, bucket_start;
  for (int i = 0; i < BT; ++i) {
    const int tok = host_tokens_[static_cast<size_t>(order[static_cast<size_t>(i)])];
    if (bucket_token.empty() || bucket_token.back() != tok) {
      bucket_token.push_back(tok);
      bucket_start.push_back(i);
    }
  }
  bucket_start.push_back(BT);
  const int K = static_cast<int>(bucket_token.size());
  host_buckets_.clear();
  host_buckets_.insert(host_buckets_.end(), bucket_token.begin(), bucket_token.end());
  host_buckets_.insert(host_buckets_.end(), bucket_start.begin(), bucket_start.end());
  host_buckets_.insert(host_buckets_.end(), order.begin(), order.end());
  int* d = scratch_ints(host_buckets_.size());
  copy_to_device(d, host_buckets_.data(), host_buckets_.size() * sizeof(int));
  cuda::encoder_backward_wte(dwte, dout, d, d + K, d + 2 * K + 1, K, C);
}

// ----- LayerNorm ---------------------------------------------------------------------------------

void CudaBackend::layernorm_forward(float* out, float* mean, float* rstd, const float* inp,
                                    const float* weight, const float* bias, int N, int C, float eps) {
  cuda::layernorm_forward(out, mean, rstd, inp, weight, bias, N, C, eps);
}

void CudaBackend::layernorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                     const float* inp, const float* weight, const float* mean,
                                     const float* rstd, int N, int C) {
  cuda::layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, N, C,
                           scratch_floats(cuda::column_reduce_scratch_floats(N, C)));
}

// ----- matrix products ---------------------------------------------------------------------------

void CudaBackend::linear_forward(float* out, const float* inp, const float* weight, const float* bias, int N,
                                 int C, int OC) {
  blas_->matmul(out, inp, weight, N, OC, C);  // out (N, OC) = inp (N, C) @ weight (C, OC)
  if (bias) cuda::add_bias(out, bias, N, OC);
}

void CudaBackend::linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                  const float* inp, const float* weight, int N, int C, int OC) {
  // dinp (N, C) += dout (N, OC) @ weight^T (OC, C)
  if (dinp) blas_->matmul(dinp, dout, weight, N, C, OC, false, true, 1.0f, 1.0f);
  // dweight (C, OC) += inp^T (C, N) @ dout (N, OC)
  if (dweight) blas_->matmul(dweight, inp, dout, C, OC, N, true, false, 1.0f, 1.0f);
  // dbias (OC) += the column sums of dout
  if (dbias)
    cuda::column_sum_add(dbias, dout, N, OC, scratch_floats(cuda::column_reduce_scratch_floats(N, OC)));
}

void CudaBackend::lm_head_forward(float* logits, const float* inp, const float* wte, int N, int C, int V) {
  blas_->matmul(logits, inp, wte, N, V, C, false, true);  // logits (N, V) = inp (N, C) @ wte^T (C, V)
}

void CudaBackend::lm_head_backward(float* dinp, float* dwte, const float* dlogits, const float* inp,
                                   const float* wte, int N, int C, int V) {
  // dinp (N, C) += dlogits (N, V) @ wte (V, C);  dwte (V, C) += dlogits^T (V, N) @ inp (N, C)
  if (dinp) blas_->matmul(dinp, dlogits, wte, N, C, V, false, false, 1.0f, 1.0f);
  if (dwte) blas_->matmul(dwte, dlogits, inp, V, C, N, true, false, 1.0f, 1.0f);
}

// ----- attention ---------------------------------------------------------------------------------
// Per (batch, head), with T x HS matrices Q, K, V (chapter 03):
//   S = Q K^T / sqrt(HS),  P = causal softmax(S),  Y = P V
// Each product is one strided-batched sgemm over the B NH heads; P is written into `att`
// (B, NH, T, T) exactly as the CPU writes it, so the backward can use it.

void CudaBackend::attention_forward(float* out, float* qkvh, float* att, const float* qkv, int B, int T,
                                    int C, int NH) {
  const int HS = C / NH, BH = B * NH;
  const size_t n = static_cast<size_t>(B) * T * C;  // one of q, k, v
  const long long sq = static_cast<long long>(T) * HS, satt = static_cast<long long>(T) * T;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const float* q = qkvh;
  const float* k = qkvh + n;
  const float* v = qkvh + 2 * n;
  cuda::split_heads(qkvh, qkv, 3, B, T, C, NH);
  // S (T, T) = scale Q (T, HS) @ K^T (HS, T), for every head. (The masked upper triangle is
  // computed too, then overwritten with zeros: cheaper than a triangular product here.)
  blas_->matmul(att, q, k, T, T, HS, false, true, scale, 0.0f, BH, sq, sq, satt);
  cuda::causal_softmax_forward(att, BH, T);
  // Y (T, HS) = P (T, T) @ V (T, HS), into scratch (B, NH, T, HS), then merged into out (B, T, C).
  float* y = scratch_floats(n);
  blas_->matmul(y, att, v, T, HS, T, false, false, 1.0f, 0.0f, BH, satt, sq, sq);
  zero(out, n);
  cuda::merge_heads_add(out, y, 1, B, T, C, NH);
}

void CudaBackend::attention_backward(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                     int B, int T, int C, int NH) {
  const int HS = C / NH, BH = B * NH;
  const size_t n = static_cast<size_t>(B) * T * C;
  const long long sq = static_cast<long long>(T) * HS, satt = static_cast<long long>(T) * T;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const float* q = qkvh;
  const float* k = qkvh + n;
  const float* v = qkvh + 2 * n;
  // Scratch: dY (n) | dQ dK dV (3 n) | dP, then dS (BH T T).
  float* dy = scratch_floats(4 * n + static_cast<size_t>(BH) * T * T);
  float* dqkvh = dy + n;
  float* datt = dy + 4 * n;
  cuda::split_heads(dy, dout, 1, B, T, C, NH);
  blas_->matmul(datt, dy, v, T, T, HS, false, true, 1.0f, 0.0f, BH, sq, sq, satt);             // dP = dY V^T
  blas_->matmul(dqkvh + 2 * n, att, dy, T, HS, T, true, false, 1.0f, 0.0f, BH, satt, sq, sq);  // dV = P^T dY
  cuda::causal_softmax_backward(datt, att, BH, T);                                             // dS
  blas_->matmul(dqkvh, datt, k, T, HS, T, false, false, scale, 0.0f, BH, satt, sq, sq);        // dQ = dS K s
  blas_->matmul(dqkvh + n, datt, q, T, HS, T, true, false, scale, 0.0f, BH, satt, sq, sq);  // dK = dS^T Q s
  cuda::merge_heads_add(dqkv, dqkvh, 3, B, T, C, NH);
}

// ----- element-wise and loss ---------------------------------------------------------------------

void CudaBackend::gelu_forward(float* out, const float* inp, int n) {
  cuda::gelu_forward(out, inp, static_cast<size_t>(n));
}

void CudaBackend::gelu_backward(float* dinp, const float* inp, const float* dout, int n) {
  cuda::gelu_backward(dinp, inp, dout, static_cast<size_t>(n));
}

void CudaBackend::residual_forward(float* out, const float* a, const float* b, int n) {
  cuda::residual_forward(out, a, b, static_cast<size_t>(n));
}

void CudaBackend::residual_backward(float* da, float* db, const float* dout, int n) {
  cuda::residual_backward(da, db, dout, static_cast<size_t>(n));
}

void CudaBackend::cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets,
                                        int N, int V) {
  cuda::cross_entropy_forward(losses, lse, logits, targets, N, V);
}

void CudaBackend::cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                                         const int* targets, float dloss, int N, int V) {
  cuda::cross_entropy_backward(dlogits, logits, lse, targets, dloss, N, V);
}

}  // namespace gpt2
