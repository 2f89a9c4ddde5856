// Device discovery and the untyped memory helpers behind DeviceArray.
#include "chapters/09_cuda/device.h"

#include <cuda_runtime.h>

#include <cstdio>

#include "chapters/09_cuda/cuda_check.h"
#include "common/error.h"

namespace gpt2::cuda {

DeviceStatus cuda_device_status(int device) {
  DeviceStatus s;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    s.reason = cat("cudaGetDeviceCount: ", cudaGetErrorString(err), " (", cudaGetErrorName(err), ")");
    return s;
  }
  if (count == 0) {
    s.reason = "cudaGetDeviceCount: no CUDA device";
    return s;
  }
  if (device < 0 || device >= count) {
    s.reason = cat("device ", device, ": there are only ", count, " CUDA device(s), 0 to ", count - 1);
    return s;
  }
  cudaDeviceProp prop{};
  err = cudaGetDeviceProperties(&prop, device);
  if (err == cudaSuccess) err = cudaSetDevice(device);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    s.reason = cat("device ", device, ": ", cudaGetErrorString(err), " (", cudaGetErrorName(err), ")");
    return s;
  }
  s.name = prop.name;
  s.major = prop.major;
  s.minor = prop.minor;
  s.memory_bytes = prop.totalGlobalMem;
  s.multiprocessors = prop.multiProcessorCount;
  // The build holds machine code for the architectures in CMAKE_CUDA_ARCHITECTURES, plus PTX the
  // driver can compile for newer ones. An older device than the oldest of them cannot run it.
  if (s.major * 10 + s.minor < GPT2_CUDA_MIN_ARCH) {
    s.reason = cat(s.name, " is sm_", s.major, s.minor,
                   ", older than the oldest architecture this build has kernels for (sm_", GPT2_CUDA_MIN_ARCH,
                   "); reconfigure with -DCMAKE_CUDA_ARCHITECTURES=", s.major, s.minor);
    return s;
  }
  s.usable = true;
  return s;
}

std::string describe(const DeviceStatus& s) {
  if (!s.usable) return cat("no usable CUDA device (", s.reason, ")");
  char mem[32];
  std::snprintf(mem, sizeof mem, "%.1f GiB",
                static_cast<double>(s.memory_bytes) / (1024.0 * 1024.0 * 1024.0));
  return cat(s.name, " (sm_", s.major, s.minor, ", ", s.multiprocessors, " SMs, ", mem, ")");
}

void* device_malloc_bytes(size_t bytes) {
  void* p = nullptr;
  if (bytes == 0) return nullptr;
  GPT2_CUDA_CHECK(cudaMalloc(&p, bytes));
  return p;
}

void device_free_bytes(void* p) {
  if (p) (void)cudaFree(p);  // never throw from a destructor
}

void device_copy_in(void* dst, const void* src, size_t bytes, size_t capacity) {
  GPT2_CHECK(bytes == capacity, "DeviceArray::upload: ", bytes, " bytes given for an array of ", capacity);
  if (bytes) GPT2_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice));
}

void device_copy_out(void* dst, const void* src, size_t bytes) {
  if (bytes) GPT2_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost));
}

void device_fill_bytes(void* p, int value, size_t bytes) {
  if (bytes) GPT2_CUDA_CHECK(cudaMemset(p, value, bytes));
}

}  // namespace gpt2::cuda
