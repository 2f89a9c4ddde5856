// CudaBackend: each Backend call as GPU kernels (kernels.h) and cuBLAS products (cublas_ops.h).
#include "chapters/09_cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>

#include "chapters/06_training/grad_clip.h"
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
  if (scratch_double_) (void)cudaFree(scratch_double_);
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
  transfers_.to_device += bytes;
  if (bytes) GPT2_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  transfers_.to_host += bytes;
  // cudaMemcpy waits for the kernels queued before it: the host sees finished results.
  if (bytes) GPT2_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void CudaBackend::copy(void* dst, const void* src, size_t bytes) {
  if (bytes) GPT2_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
}

void CudaBackend::zero(float* p, size_t n) {
  if (n) GPT2_CUDA_CHECK(cudaMemset(p, 0, n * sizeof(float)));
}

double CudaBackend::read_double(const double* device_value) {
  double value = 0;
  copy_to_host(&value, device_value, sizeof value);
  return value;
}

double CudaBackend::sum(const float* x, size_t n) {
  double* result = scratch_doubles(1);
  cuda::sum_to_double(result, x, n);
  return read_double(result);
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

double* CudaBackend::scratch_doubles(size_t n) {
  return static_cast<double*>(grow(scratch_double_, scratch_double_bytes_, n * sizeof(double)));
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
  // Many positions can hold the same token, and their gradients go to the same row of dwte:
  // the kernel sorts the positions by token on the GPU and adds each token's rows in a fixed
  // order (kernels.h), so nothing comes back to the host.
  const int BT = B * T;
  cuda::encoder_backward_wte(dwte, dout, tokens, scratch_ints(static_cast<size_t>(BT)), BT, C);
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
  attention_forward_impl(out, qkvh, att, qkv, B, T, C, NH, 0.0f, 0);
}

void CudaBackend::attention_backward(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                     int B, int T, int C, int NH) {
  attention_backward_impl(dqkv, dout, qkvh, att, B, T, C, NH, 0.0f, 0);
}

void CudaBackend::attention_forward_dropout(float* out, float* qkvh, float* att, const float* qkv, int B,
                                            int T, int C, int NH, float p, uint64_t key) {
  attention_forward_impl(out, qkvh, att, qkv, B, T, C, NH, p, key);
}

void CudaBackend::attention_backward_dropout(float* dqkv, const float* dout, const float* qkvh,
                                             const float* att, int B, int T, int C, int NH, float p,
                                             uint64_t key) {
  attention_backward_impl(dqkv, dout, qkvh, att, B, T, C, NH, p, key);
}

// With dropout on the weights (p > 0, chapter 03's file comment): Y = D V with D = dropout(P), its
// mask recomputed from the key wherever it is needed; att keeps P for the softmax's backward.
void CudaBackend::attention_forward_impl(float* out, float* qkvh, float* att, const float* qkv, int B, int T,
                                         int C, int NH, float p, uint64_t key) {
  const int HS = C / NH, BH = B * NH;
  const size_t n = static_cast<size_t>(B) * T * C;  // one of q, k, v
  const size_t natt = static_cast<size_t>(BH) * T * T;
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
  // With dropout the scratch also holds D (BH T T), and Y = D V.
  float* y = scratch_floats(n + (p > 0 ? natt : 0));
  const float* weights = att;
  if (p > 0) {
    cuda::dropout_forward(y + n, att, natt, p, key);
    weights = y + n;
  }
  blas_->matmul(y, weights, v, T, HS, T, false, false, 1.0f, 0.0f, BH, satt, sq, sq);
  zero(out, n);
  cuda::merge_heads_add(out, y, 1, B, T, C, NH);
}

void CudaBackend::attention_backward_impl(float* dqkv, const float* dout, const float* qkvh, const float* att,
                                          int B, int T, int C, int NH, float p, uint64_t key) {
  const int HS = C / NH, BH = B * NH;
  const size_t n = static_cast<size_t>(B) * T * C;
  const size_t natt = static_cast<size_t>(BH) * T * T;
  const long long sq = static_cast<long long>(T) * HS, satt = static_cast<long long>(T) * T;
  const float scale = 1.0f / std::sqrt(static_cast<float>(HS));
  const float* q = qkvh;
  const float* k = qkvh + n;
  const float* v = qkvh + 2 * n;
  // Scratch: dY (n) | dQ dK dV (3 n) | dP, then dS (BH T T) | with dropout, D (BH T T).
  float* dy = scratch_floats(4 * n + (p > 0 ? 2 : 1) * natt);
  float* dqkvh = dy + n;
  float* datt = dy + 4 * n;
  const float* weights = att;  // P, or D with dropout
  if (p > 0) {
    cuda::dropout_forward(datt + natt, att, natt, p, key);  // D again, from the same key
    weights = datt + natt;
  }
  cuda::split_heads(dy, dout, 1, B, T, C, NH);
  blas_->matmul(datt, dy, v, T, T, HS, false, true, 1.0f, 0.0f, BH, sq, sq, satt);  // dP = dY V^T
  blas_->matmul(dqkvh + 2 * n, weights, dy, T, HS, T, true, false, 1.0f, 0.0f, BH, satt, sq,
                sq);                                           // dV = P^T dY
  if (p > 0) cuda::dropout_forward(datt, datt, natt, p, key);  // dP = keep dD / (1 - p), in place
  cuda::causal_softmax_backward(datt, att, BH, T);             // dS
  blas_->matmul(dqkvh, datt, k, T, HS, T, false, false, scale, 0.0f, BH, satt, sq, sq);     // dQ = dS K s
  blas_->matmul(dqkvh + n, datt, q, T, HS, T, true, false, scale, 0.0f, BH, satt, sq, sq);  // dK = dS^T Q s
  cuda::merge_heads_add(dqkv, dqkvh, 3, B, T, C, NH);
}

void CudaBackend::attention_forward_cached(float* out, float* k_cache, float* v_cache, const float* qkv,
                                           int B, int T, int pos0, int maxT, int C, int NH) {
  cuda::attention_forward_cached(out, k_cache, v_cache, qkv, B, T, pos0, maxT, C, NH);
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

void CudaBackend::dropout_forward(float* out, const float* inp, int n, float p, uint64_t key) {
  cuda::dropout_forward(out, inp, static_cast<size_t>(n), p, key);
}

void CudaBackend::dropout_backward(float* dinp, const float* dout, int n, float p, uint64_t key) {
  cuda::dropout_backward(dinp, dout, static_cast<size_t>(n), p, key);
}

void CudaBackend::cross_entropy_forward(float* losses, float* lse, const float* logits, const int* targets,
                                        int N, int V) {
  cuda::cross_entropy_forward(losses, lse, logits, targets, N, V);
}

void CudaBackend::cross_entropy_backward(float* dlogits, const float* logits, const float* lse,
                                         const int* targets, float dloss, int N, int V) {
  cuda::cross_entropy_backward(dlogits, logits, lse, targets, dloss, N, V);
}

// ----- chapter 06's training operations ----------------------------------------------------------

double CudaBackend::grad_norm(const float* grad, size_t n) {
  // The chunks of chapter 06's grad_norm (kNormChunk elements), each summed in double.
  const size_t chunks = (n + kNormChunk - 1) / kNormChunk;
  double* d = scratch_doubles(chunks + 1);  // [result | partial sums]
  cuda::sum_squares_to_double(d, d + 1, grad, n, kNormChunk);
  return std::sqrt(read_double(d));
}

void CudaBackend::scale(float* grad, size_t n, float s) {
  cuda::scale(grad, n, s);
}

void CudaBackend::adamw_update(float* param, const float* grad, float* m, float* v, size_t n, int64_t step,
                               float lr, float beta1, float beta2, float eps, float weight_decay) {
  cuda::adamw_update(param, grad, m, v, n, step, lr, beta1, beta2, eps, weight_decay);
}

}  // namespace gpt2
