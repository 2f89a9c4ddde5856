// Blas: the row-major matrix product on cuBLAS (see cublas_ops.h for the column-major swap).
#include "chapters/09_cuda/cublas_ops.h"

#include "chapters/09_cuda/cuda_check.h"

namespace gpt2::cuda {

Blas::Blas() {
  GPT2_CUBLAS_CHECK(cublasCreate(&handle_));
  set_tf32(false);
}

Blas::~Blas() {
  if (handle_) (void)cublasDestroy(handle_);  // never throw from a destructor
}

void Blas::set_tf32(bool on) {
  // CUBLAS_DEFAULT_MATH is plain float32 (no TF32) for cublasSgemm, as PyTorch with allow_tf32 off.
  GPT2_CUBLAS_CHECK(cublasSetMathMode(handle_, on ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  tf32_ = on;
}

void Blas::matmul(float* c, const float* a, const float* b, int M, int N, int K, bool trans_a, bool trans_b,
                  float alpha, float beta, int batch, long long stride_a, long long stride_b,
                  long long stride_c) {
  if (M == 0 || N == 0 || batch == 0) return;
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T. A row-major matrix stored
  // (R, S) is, read column-major, the (S, R) matrix with leading dimension S; so b goes first,
  // a second, and each keeps its own transposition flag.
  const cublasOperation_t op_b = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int ldb = trans_b ? K : N;  // b stored (N, K) when transposed, else (K, N)
  const int lda = trans_a ? M : K;  // a stored (K, M) when transposed, else (M, K)
  const int ldc = N;
  if (batch == 1) {
    GPT2_CUBLAS_CHECK(cublasSgemm(handle_, op_b, op_a, N, M, K, &alpha, b, ldb, a, lda, &beta, c, ldc));
  } else {
    GPT2_CUBLAS_CHECK(cublasSgemmStridedBatched(handle_, op_b, op_a, N, M, K, &alpha, b, ldb, stride_b, a,
                                                lda, stride_a, &beta, c, ldc, stride_c, batch));
  }
}

}  // namespace gpt2::cuda
