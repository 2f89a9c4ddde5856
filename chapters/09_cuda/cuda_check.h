/// @file cuda_check.h
/// @brief Every CUDA and cuBLAS call checked, with an error that names the call and the reason.
///
/// A CUDA call returns a status code, and a kernel launch returns nothing at all: a forgotten
/// check turns a bad launch into garbage numbers three kernels later. So every call in this
/// chapter goes through one of these macros, which throw gpt2::Error with a message like
///
///     CUDA error: cudaMalloc(&p, bytes) failed at chapters/09_cuda/cuda_backend.cpp:41:
///     out of memory (cudaErrorMemoryAllocation)
///
/// Kernel launches are asynchronous: a launch with a bad configuration fails at once (and
/// GPT2_CUDA_CHECK_LAUNCH catches it), but an out-of-bounds access inside the kernel is only
/// reported by the next call that synchronises. Set the environment variable
/// `GPT2_CUDA_SYNC=1` (the tests do) and every checked launch also waits for the kernel to
/// finish, so the error names the kernel that failed. (CUDA's own `CUDA_LAUNCH_BLOCKING=1`
/// does the same for every launch.)
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

namespace gpt2::cuda {

/// Throws gpt2::Error naming `call`, `file`:`line` and the reason, unless status is cudaSuccess.
void check_cuda(cudaError_t status, const char* call, const char* file, int line);
/// The same for cuBLAS status codes.
void check_cublas(cublasStatus_t status, const char* call, const char* file, int line);
/// After a launch: cudaGetLastError(), and with GPT2_CUDA_SYNC=1 also cudaDeviceSynchronize().
void check_launch(const char* kernel, const char* file, int line);
/// True when GPT2_CUDA_SYNC=1 (read once), or after set_sync_after_launch(true).
bool sync_after_launch();
/// Forces (or stops) a synchronisation after every checked launch, whatever the environment says.
void set_sync_after_launch(bool on);

}  // namespace gpt2::cuda

/// GPT2_CUDA_CHECK(cudaMalloc(&p, n)): throws gpt2::Error if the call does not return cudaSuccess.
#define GPT2_CUDA_CHECK(call) ::gpt2::cuda::check_cuda((call), #call, __FILE__, __LINE__)
/// GPT2_CUBLAS_CHECK(cublasSgemm(...)): the same for cuBLAS.
#define GPT2_CUBLAS_CHECK(call) ::gpt2::cuda::check_cublas((call), #call, __FILE__, __LINE__)
/// Write it right after `kernel<<<grid, block>>>(...)`, with the kernel's name.
#define GPT2_CUDA_CHECK_LAUNCH(kernel) ::gpt2::cuda::check_launch(kernel, __FILE__, __LINE__)
