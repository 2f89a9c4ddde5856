// Embedding kernels: token + position lookup, and its two gradients.
// CPU reference: chapters/02_embeddings/embedding.h.
#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

// One thread per output element (b, t, c). Consecutive threads take consecutive c, so a warp
// reads 32 consecutive floats of a wte row and of a wpe row and writes 32 consecutive floats of
// out: every access is coalesced into a few 128-byte transactions.
__global__ void encoder_forward_kernel(float* out, const int* tokens, const float* wte, const float* wpe,
                                       int B, int T, int C) {
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const size_t total = static_cast<size_t>(B) * T * C;
  if (idx >= total) return;
  const size_t bt = idx / C;
  const int c = static_cast<int>(idx % C);
  const int t = static_cast<int>(bt % T);
  out[idx] = wte[static_cast<size_t>(tokens[bt]) * C + c] + wpe[static_cast<size_t>(t) * C + c];
}

// One thread per (t, c): dwpe[t, c] += sum over b of dout[b, t, c], b in order.
__global__ void encoder_backward_wpe_kernel(float* dwpe, const float* dout, int B, int T, int C) {
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<size_t>(T) * C) return;
  float sum = 0.0f;
  for (int b = 0; b < B; ++b) sum += dout[static_cast<size_t>(b) * T * C + idx];
  dwpe[idx] += sum;
}

// The positions in the order (token, position), without atomics and without the host: position
// i's place is the number of positions j whose token is smaller, or equal with j < i (a stable
// counting rank). One thread per position, n comparisons each: for a training batch of 8192
// positions 67 million comparisons, a fraction of a millisecond, and the same order every run.
__global__ void sort_by_token_kernel(int* sorted, const int* tokens, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int tok = tokens[i];
  int rank = 0;
  for (int j = 0; j < n; ++j) {
    const int other = tokens[j];
    rank += other < tok || (other == tok && j < i);
  }
  sorted[rank] = i;
}

// One block per place k of the sorted order; the block at the first place of a token's run adds
// the dout rows of all the run's positions, in increasing position order, its threads striding
// over the C channels. The other blocks have nothing to do.
__global__ void encoder_backward_wte_kernel(float* dwte, const float* dout, const int* tokens,
                                            const int* sorted, int n, int C) {
  const int k = blockIdx.x;
  const int tok = tokens[sorted[k]];
  if (k > 0 && tokens[sorted[k - 1]] == tok) return;
  int end = k + 1;
  while (end < n && tokens[sorted[end]] == tok) ++end;
  float* row = dwte + static_cast<size_t>(tok) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float sum = 0.0f;
    for (int i = k; i < end; ++i) sum += dout[static_cast<size_t>(sorted[i]) * C + c];
    row[c] += sum;
  }
}

}  // namespace

void encoder_forward(float* out, const int* tokens, const float* wte, const float* wpe, int B, int T, int C) {
  const size_t n = static_cast<size_t>(B) * T * C;
  if (n == 0) return;
  encoder_forward_kernel<<<blocks_for(n, 256), 256>>>(out, tokens, wte, wpe, B, T, C);
  GPT2_CUDA_CHECK_LAUNCH("encoder_forward_kernel");
}

void encoder_backward_wpe(float* dwpe, const float* dout, int B, int T, int C) {
  const size_t n = static_cast<size_t>(T) * C;
  if (n == 0) return;
  encoder_backward_wpe_kernel<<<blocks_for(n, 256), 256>>>(dwpe, dout, B, T, C);
  GPT2_CUDA_CHECK_LAUNCH("encoder_backward_wpe_kernel");
}

void encoder_backward_wte(float* dwte, const float* dout, const int* tokens, int* sorted, int n, int C) {
  if (n == 0) return;
  sort_by_token_kernel<<<blocks_for(static_cast<size_t>(n), 256), 256>>>(sorted, tokens, n);
  GPT2_CUDA_CHECK_LAUNCH("sort_by_token_kernel");
  encoder_backward_wte_kernel<<<n, 256>>>(dwte, dout, tokens, sorted, n, C);
  GPT2_CUDA_CHECK_LAUNCH("encoder_backward_wte_kernel");
}

}  // namespace gpt2::cuda
