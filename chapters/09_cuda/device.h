/// @file device.h
/// @brief Is there a GPU? Which one? And a small owning array of device memory.
///
/// The chapter's tests and benchmark start by asking cuda_device_status(): on a machine without
/// an NVIDIA GPU (or without its driver) they print why and exit with kSkipReturnCode, which
/// CTest is told to report as "Skipped" (the SKIP_RETURN_CODE test property), never as "Passed".
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace gpt2::cuda {

/// The exit code of a CUDA test or benchmark that found no usable GPU (CTest: SKIP_RETURN_CODE).
inline constexpr int kSkipReturnCode = 77;

/// What the runtime says about a device (0 unless asked for another).
struct DeviceStatus {
  bool usable = false;       ///< a device is present and this build has kernels it can run
  std::string reason;        ///< when not usable: why, in words
  std::string name;          ///< e.g. "NVIDIA H100 80GB HBM3"
  int major = 0, minor = 0;  ///< compute capability, e.g. 9.0
  size_t memory_bytes = 0;   ///< global memory
  int multiprocessors = 0;
};

/// Queries device `device` (default 0) without throwing (no driver, no device, a device number
/// past the last and a too-old device are all answers, not errors) and selects it.
DeviceStatus cuda_device_status(int device = 0);

/// A one-line description: "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs, 79.1 GiB)".
std::string describe(const DeviceStatus& status);

// The untyped helpers behind DeviceArray (device.cpp), so this header needs no CUDA headers.
void* device_malloc_bytes(size_t bytes);
void device_free_bytes(void* p);
void device_copy_in(void* dst, const void* src, size_t bytes, size_t capacity);
void device_copy_out(void* dst, const void* src, size_t bytes);
void device_fill_bytes(void* p, int value, size_t bytes);

/// n elements of device memory, freed on destruction (move-only). For tests and benchmarks;
/// the model's memory comes from CudaBackend::allocate.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t n) : n_(n) { p_ = static_cast<T*>(device_malloc_bytes(n * sizeof(T))); }
  /// A device copy of `host`.
  explicit DeviceArray(std::span<const T> host) : DeviceArray(host.size()) { upload(host); }
  ~DeviceArray() { device_free_bytes(p_); }
  DeviceArray(DeviceArray&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(n_, o.n_);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return p_; }
  size_t size() const { return n_; }
  /// Host to device; host.size() must equal size().
  void upload(std::span<const T> host) {
    device_copy_in(p_, host.data(), host.size() * sizeof(T), n_ * sizeof(T));
  }
  /// Device to host.
  std::vector<T> download() const {
    std::vector<T> host(n_);
    device_copy_out(host.data(), p_, n_ * sizeof(T));
    return host;
  }
  /// Fills every byte with 0xFF: as floats, every element becomes a NaN, so an element a kernel
  /// forgets to write is caught by any comparison.
  void poison() { device_fill_bytes(p_, 0xFF, n_ * sizeof(T)); }

 private:
  T* p_ = nullptr;
  size_t n_ = 0;
};

}  // namespace gpt2::cuda
