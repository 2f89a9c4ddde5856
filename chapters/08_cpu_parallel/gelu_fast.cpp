#include "chapters/08_cpu_parallel/gelu_fast.h"

#include <algorithm>

#include "chapters/08_cpu_parallel/vector_ops.h"

namespace gpt2 {

// Chunks of 4096 elements (16 KB): large enough that the loop overhead vanishes, small enough that
// both threads get many of them.
constexpr int kGeluChunk = 4096;

void gelu_forward_fast(float* out, const float* inp, int n) {
  const int chunks = (n + kGeluChunk - 1) / kGeluChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int ch = 0; ch < chunks; ++ch) {
    const int i0 = ch * kGeluChunk;
    gelu_forward_range(out + i0, inp + i0, std::min(kGeluChunk, n - i0));
  }
}

void gelu_backward_fast(float* dinp, const float* inp, const float* dout, int n) {
  const int chunks = (n + kGeluChunk - 1) / kGeluChunk;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int ch = 0; ch < chunks; ++ch) {
    const int i0 = ch * kGeluChunk;
    gelu_backward_range(dinp + i0, inp + i0, dout + i0, std::min(kGeluChunk, n - i0));
  }
}

}  // namespace gpt2
