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

// One block per distinct token; its threads stride over the C channels. Each thread adds the
// dout rows of the token's positions in the order the bucket lists them.
__global__ void encoder_backward_wte_kernel(float* dwte, const float* dout, const int* bucket_token,
                                            const int* bucket_start, const int* bucket_pos, int C) {
  const int k = blockIdx.x;
  const int begin = bucket_start[k], end = bucket_start[k + 1];
  float* row = dwte + static_cast<size_t>(bucket_token[k]) * C;
  for (int c = threadIdx.x; c < C; c += blockDim.x) {
    float sum = 0.0f;
    for (int i = begin; i < end; ++i) sum += dout[static_cast<size_t>(bucket_pos[i]) * C + c];
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

void encoder_backward_wte(float* dwte, const float* dout, const int* bucket_token, const int* bucket_start,
                          const int* bucket_pos, int num_buckets, int C) {
  if (num_buckets == 0) return;
  encoder_backward_wte_kernel<<<num_buckets, 256>>>(dwte, dout, bucket_token, bucket_start, bucket_pos, C);
  GPT2_CUDA_CHECK_LAUNCH("encoder_backward_wte_kernel");
}

}  // namespace gpt2::cuda
