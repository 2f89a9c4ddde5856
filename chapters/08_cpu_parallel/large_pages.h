/// @file large_pages.h
/// @brief Big arrays on 2 MB pages, so that streaming the weights does not wait on the TLB.
///
/// Every load goes from a virtual address to a physical one through the page table. The core keeps
/// the translations it used last in its TLB, a small cache of a few thousand pages; an address on a
/// page it does not hold costs a walk of the page table first. With Linux's ordinary 4 KB pages a
/// decode step of GPT-2 124M, which reads 500 MB of weights, touches about 122,000 pages: nearly
/// every one is a miss, and a product that reads several rows of a matrix at a time keeps that
/// many walks going. With 2 MB pages the same step touches about 250 pages.
///
/// Linux gives a program 2 MB pages ("transparent huge pages") where it asks for them with
/// `madvise(MADV_HUGEPAGE)`, on a range aligned to 2 MB: the default setting of Debian and Ubuntu
/// (`/sys/kernel/mm/transparent_hugepage/enabled` shows `[madvise]`). allocate_large() does that
/// for every array of 2 MB or more. Where the kernel has no free 2 MB page, or the setting is
/// `never`, the memory is the same, on 4 KB pages: only the speed depends on it, never a result.
/// Chapter 08's README measures what it gains (the decode step's matrix products, "What it gains in
/// speed").
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace gpt2 {

/// `bytes` bytes of zeroed memory, 64-byte aligned; from 2 MB up, aligned to 2 MB and advised to
/// the kernel as huge pages. Throws gpt2::Error when out of memory. Free it with free_large().
void* allocate_large(size_t bytes);
void free_large(void* p);

/// The bytes of this process's memory that the kernel holds on 2 MB pages right now (Linux's
/// AnonHugePages in /proc/self/smaps_rollup; 0 where it cannot tell): what the benchmark prints to
/// show whether the weights really are on huge pages.
size_t huge_page_bytes();

/// A std::vector allocator on allocate_large(): the arrays of a model's weights in another format
/// (weight_formats.h) and the benchmark's bandwidth buffer live on 2 MB pages like the backend's
/// parameters.
template <typename T>
struct LargePageAllocator {
  using value_type = T;
  LargePageAllocator() = default;
  template <typename U>
  LargePageAllocator(const LargePageAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(allocate_large(n * sizeof(T))); }
  void deallocate(T* p, size_t) { free_large(p); }
  friend bool operator==(const LargePageAllocator&, const LargePageAllocator&) { return true; }
};

template <typename T>
using LargeVector = std::vector<T, LargePageAllocator<T>>;

}  // namespace gpt2
