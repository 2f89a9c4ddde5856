// Turning CUDA and cuBLAS status codes into gpt2::Error messages.
#include "chapters/09_cuda/cuda_check.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace gpt2::cuda {

namespace {
// -1: not decided yet (read GPT2_CUDA_SYNC on first use), 0: off, 1: on.
std::atomic<int> g_sync{-1};
}  // namespace

bool sync_after_launch() {
  int s = g_sync.load();
  if (s < 0) {
    const char* env = std::getenv("GPT2_CUDA_SYNC");
    s = (env && std::strcmp(env, "0") != 0 && env[0] != '\0') ? 1 : 0;
    g_sync.store(s);
  }
  return s == 1;
}

void set_sync_after_launch(bool on) {
  g_sync.store(on ? 1 : 0);
}

void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  // Clear the sticky "last error" so the next check reports its own problem, not this one.
  (void)cudaGetLastError();
  fail("CUDA error: ", call, " failed at ", file, ":", line, ": ", cudaGetErrorString(status), " (",
       cudaGetErrorName(status), ")");
}

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  fail("cuBLAS error: ", call, " failed at ", file, ":", line, ": ", cublasGetStatusString(status), " (",
       cublasGetStatusName(status), ")");
}

void check_launch(const char* kernel, const char* file, int line) {
  cudaError_t status = cudaGetLastError();  // a bad launch configuration shows up here at once
  if (status == cudaSuccess && sync_after_launch()) status = cudaDeviceSynchronize();  // faults inside it
  if (status == cudaSuccess) return;
  (void)cudaGetLastError();
  fail("CUDA error: kernel ", kernel, " launched at ", file, ":", line, ": ", cudaGetErrorString(status),
       " (", cudaGetErrorName(status), ")");
}

}  // namespace gpt2::cuda
