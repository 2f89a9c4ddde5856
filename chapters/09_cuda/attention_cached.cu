// Attention over a KV cache on the GPU. CPU reference: chapters/05_gpt2_model/kv_cache.h
// (attention_forward_cached).
//
// A decode step has one new query per (sequence, head): far too little work for the batched
// matrix products of attention.cu, and the keys it needs are already in the cache. So one block
// handles one (sequence, new position, head): its threads score the visible keys in parallel
// (each key's dot product with the query, read from the cache in rows of HS floats), the block
// finds the maximum and the sum of the exponentials (cuda_common.cuh's block reductions, fixed
// trees: deterministic), and then each thread computes some of the HS output channels as the
// weighted sum of the value rows, in key order.
#include <cmath>

#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"
#include "common/error.h"

namespace gpt2::cuda {

namespace {

// One thread per element of the new keys and values: (B, T, 2, C) of qkv's k | v parts.
__global__ void kv_append_kernel(float* k_cache, float* v_cache, const float* qkv, int B, int T, int pos0,
                                 int maxT, int C, int NH) {
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<size_t>(B) * T * 2 * C) return;
  const int HS = C / NH;
  const int c = static_cast<int>(idx % C);
  const int which = static_cast<int>((idx / C) % 2);  // 0: key, 1: value
  const size_t bt = idx / (2 * static_cast<size_t>(C));
  const int b = static_cast<int>(bt / T), t = static_cast<int>(bt % T);
  const int h = c / HS, i = c % HS;
  const float x = qkv[bt * 3 * C + static_cast<size_t>(which + 1) * C + c];
  float* cache = which == 0 ? k_cache : v_cache;
  cache[((static_cast<size_t>(b) * NH + h) * maxT + pos0 + t) * HS + i] = x;
}

constexpr int kThreads = 128;

// Block (b, t, h) of a grid of B T NH blocks. Dynamic shared memory: the HS floats of the query,
// then one score per visible key.
__global__ void cached_attention_kernel(float* out, const float* k_cache, const float* v_cache,
                                        const float* qkv, int T, int pos0, int maxT, int C, int NH) {
  extern __shared__ float smem[];
  __shared__ float reduce[32];
  const int HS = C / NH;
  const int h = blockIdx.x % NH;
  const int bt = blockIdx.x / NH;  // b T + t
  const int b = bt / T, t = bt % T;
  const int n = pos0 + t + 1;  // keys 0 .. pos0 + t are visible
  float* q = smem;
  float* p = smem + HS;
  for (int i = threadIdx.x; i < HS; i += blockDim.x) q[i] = qkv[static_cast<size_t>(bt) * 3 * C + h * HS + i];
  __syncthreads();
  const float* K = k_cache + (static_cast<size_t>(b) * NH + h) * maxT * HS;
  const float* V = v_cache + (static_cast<size_t>(b) * NH + h) * maxT * HS;
  const float scale = 1.0f / sqrtf(static_cast<float>(HS));
  // 1) the scores, and each thread's maximum
  float local_max = -INFINITY;
  for (int s = threadIdx.x; s < n; s += blockDim.x) {
    const float* ks = K + static_cast<size_t>(s) * HS;
    float dot = 0.0f;
    for (int i = 0; i < HS; ++i) dot += q[i] * ks[i];
    p[s] = dot * scale;
    local_max = fmaxf(local_max, p[s]);
  }
  const float maxval = block_max(local_max, reduce);
  // 2) the softmax: exp(S - max) in (0, 1], divided by their sum (>= 1)
  float local_sum = 0.0f;
  for (int s = threadIdx.x; s < n; s += blockDim.x) {
    p[s] = expf(p[s] - maxval);
    local_sum += p[s];
  }
  const float inv = 1.0f / block_sum(local_sum, reduce);
  for (int s = threadIdx.x; s < n; s += blockDim.x) p[s] *= inv;
  __syncthreads();
  // 3) out = sum_s P[s] v_s, each thread some channels, keys in order
  float* o = out + static_cast<size_t>(bt) * C + h * HS;
  for (int i = threadIdx.x; i < HS; i += blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < n; ++s) acc += p[s] * V[static_cast<size_t>(s) * HS + i];
    o[i] = acc;
  }
}

}  // namespace

void attention_forward_cached(float* out, float* k_cache, float* v_cache, const float* qkv, int B, int T,
                              int pos0, int maxT, int C, int NH) {
  const int HS = C / NH;
  const size_t n = static_cast<size_t>(B) * T * 2 * C;
  if (n == 0) return;
  kv_append_kernel<<<blocks_for(n, 256), 256>>>(k_cache, v_cache, qkv, B, T, pos0, maxT, C, NH);
  GPT2_CUDA_CHECK_LAUNCH("kv_append_kernel");
  const size_t shared = (static_cast<size_t>(HS) + pos0 + T) * sizeof(float);
  GPT2_CHECK(shared <= 48 * 1024, "attention over the KV cache: ", pos0 + T,
             " positions do not fit the GPU kernel's 48 KB of shared memory");
  cached_attention_kernel<<<static_cast<unsigned int>(B) * T * NH, kThreads, shared>>>(
      out, k_cache, v_cache, qkv, T, pos0, maxT, C, NH);
  GPT2_CUDA_CHECK_LAUNCH("cached_attention_kernel");
}

}  // namespace gpt2::cuda
