/// @file parallel.h
/// @brief The few OpenMP calls chapter 08 needs, written so the code also builds without OpenMP.
///
/// The kernels use plain `#pragma omp parallel` / `#pragma omp for` lines: with OpenMP off the
/// compiler ignores them and the loops run on one thread, as they read. These helpers wrap the
/// runtime calls (`omp_get_num_threads()` and friends) that would not compile without `<omp.h>`.
///
/// Determinism rule of the chapter: the thread count may decide *who* computes an output element,
/// never *how* it is computed. Every sum is evaluated in an order fixed by the shapes alone, so the
/// result is the same bit for bit with 1, 2 or 16 threads.
#pragma once

#ifdef GPT2_HAVE_OPENMP
#include <omp.h>
#endif

namespace gpt2 {

/// Threads a parallel region started now would use (OMP_NUM_THREADS, or the number of cores).
inline int max_threads() {
#ifdef GPT2_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Inside a parallel region: how many threads run it. Outside: 1.
inline int team_size() {
#ifdef GPT2_HAVE_OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

/// Inside a parallel region: this thread's number, 0 .. team_size() - 1. Outside: 0.
inline int thread_rank() {
#ifdef GPT2_HAVE_OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/// Sets the thread count of later parallel regions (like OMP_NUM_THREADS); a no-op without OpenMP.
inline void set_threads(int n) {
#ifdef GPT2_HAVE_OPENMP
  omp_set_num_threads(n);
#else
  (void)n;
#endif
}

/// Sets the thread count for the lifetime of this object, then restores the previous one.
class ScopedThreads {
 public:
  explicit ScopedThreads(int n) : saved_(max_threads()) { set_threads(n); }
  ~ScopedThreads() { set_threads(saved_); }
  ScopedThreads(const ScopedThreads&) = delete;
  ScopedThreads& operator=(const ScopedThreads&) = delete;

 private:
  int saved_;
};

}  // namespace gpt2
