/// @file cublas_ops.h
/// @brief Matrix products through cuBLAS, written in the row-major terms of the rest of the course.
///
/// cuBLAS, like Fortran BLAS, stores matrices column-major. A row-major (M, N) matrix read as
/// column-major is its transpose (N, M). So the row-major product C = A B is, to cuBLAS, the
/// column-major product C^T = B^T A^T: swap the operands and the dimensions, and no data moves.
/// Blas::matmul does that swap once, here, so every call site reads like the maths:
///
///     linear_forward:  out (N, OC) = inp (N, C) @ W (C, OC)        matmul(out, inp, W, N, OC, C)
///     dW (C, OC)      += inp^T (C, N) @ dout (N, OC)                trans_a, beta = 1
///     dinp (N, C)     += dout (N, OC) @ W^T (OC, C)                 trans_b, beta = 1
///
/// TF32: on Ampere and newer GPUs cuBLAS can round the inputs of a float product to 10 mantissa
/// bits and use the tensor cores (several times faster, relative error about 1e-3 instead of
/// 1e-7). It is off by default here, so the GPU agrees with the CPU to float32 rounding; turn it
/// on with set_tf32(true) (PyTorch: torch.backends.cuda.matmul.allow_tf32 = True).
#pragma once

#include <cublas_v2.h>

namespace gpt2::cuda {

/// A cuBLAS handle (on the default stream) and the product the course needs.
class Blas {
 public:
  Blas();
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  /// Allow TF32 tensor-core products (default off: full float32).
  void set_tf32(bool on);
  bool tf32() const { return tf32_; }

  /// Row-major, for each of `batch` matrices (consecutive ones `stride_*` floats apart):
  /// c (M, N) = alpha op(a) (M, K) @ op(b) (K, N) + beta c, where op(a) = a stored (M, K), or
  /// a stored (K, M) and transposed when trans_a (the same for b with (K, N) / (N, K)).
  void matmul(float* c, const float* a, const float* b, int M, int N, int K, bool trans_a = false,
              bool trans_b = false, float alpha = 1.0f, float beta = 0.0f, int batch = 1,
              long long stride_a = 0, long long stride_b = 0, long long stride_c = 0);

  cublasHandle_t handle() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
  bool tf32_ = false;
};

}  // namespace gpt2::cuda
