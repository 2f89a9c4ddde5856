// The teaching attention kernels (attention_steps.h), causal, q, k, v and out all (B, NH, T, HS).
#include "chapters/09_cuda/attention_steps.h"
#include "chapters/09_cuda/cuda_common.cuh"
#include "common/error.h"

namespace gpt2::cuda {

namespace {

// ---- step 1: naive ----------------------------------------------------------------------------
// Thread (bh, t) does chapter 03's three loops for its row. Simple, and slow for two reasons:
// neighbouring threads read rows of K and V that are HS floats apart (uncoalesced), and the
// (T, T) matrix of scores goes out to global memory and back.
__global__ void attention_naive_kernel(float* out, float* att, const float* q, const float* k, const float* v,
                                       int BH, int T, int HS, float scale) {
  const int idx = blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= BH * T) return;
  const int bh = idx / T, t = idx % T;
  const size_t base = static_cast<size_t>(bh) * T * HS;
  const float* qt = q + base + static_cast<size_t>(t) * HS;
  float* p = att + static_cast<size_t>(idx) * T;
  float m = -INFINITY;
  for (int s = 0; s <= t; ++s) {
    const float* ks = k + base + static_cast<size_t>(s) * HS;
    float dot = 0.0f;
    for (int i = 0; i < HS; ++i) dot += qt[i] * ks[i];
    p[s] = dot * scale;
    m = fmaxf(m, p[s]);
  }
  float sum = 0.0f;
  for (int s = 0; s <= t; ++s) {
    p[s] = expf(p[s] - m);
    sum += p[s];
  }
  const float inv = 1.0f / sum;
  for (int s = 0; s < T; ++s) p[s] = s <= t ? p[s] * inv : 0.0f;
  float* ot = out + base + static_cast<size_t>(t) * HS;
  for (int i = 0; i < HS; ++i) {
    float acc = 0.0f;
    for (int s = 0; s <= t; ++s) acc += p[s] * v[base + static_cast<size_t>(s) * HS + i];
    ot[i] = acc;
  }
}

// ---- step 2: flash-style, online softmax ------------------------------------------------------
// The softmax of a row needs its maximum and its sum before any output can be formed, which seems
// to force two passes over all T scores. The online softmax does it in one: keep, for the keys
// seen so far, the running maximum m, the running sum l = sum exp(s - m) and the running output
// o = sum exp(s - m) v. When a new score s' arrives with m' = max(m, s'):
//
//     l <- l exp(m - m') + exp(s' - m'),      o <- o exp(m - m') + exp(s' - m') v'
//
// (rescaling what was summed against the old maximum), and at the end out = o / l. So each key
// and value row is read once, from shared memory, and nothing of size T x T is ever stored.
// (FlashAttention does the same per tile of keys with matrix instructions; this kernel updates
// once per key, which is simpler to read and costs some extra multiplies.)
constexpr int kQueries = 64;  // queries per block, one per thread
constexpr int kKeys = 64;     // keys (and values) per shared-memory tile

__global__ void attention_flash_kernel(float* out, float* lse, const float* q, const float* k, const float* v,
                                       int T, int HS, float scale) {
  __shared__ float k_tile[kKeys][kFlashMaxHeadSize];
  __shared__ float v_tile[kKeys][kFlashMaxHeadSize];
  const int bh = blockIdx.y;
  const int t0 = blockIdx.x * kQueries;
  const int t = t0 + threadIdx.x;  // this thread's query
  const size_t base = static_cast<size_t>(bh) * T * HS;

  // The query row (pre-scaled) and the running output live in registers: the loops over
  // kFlashMaxHeadSize are unrolled with constant indices, and `i < HS` masks the unused part.
  float qr[kFlashMaxHeadSize], o[kFlashMaxHeadSize];
#pragma unroll
  for (int i = 0; i < kFlashMaxHeadSize; ++i) {
    qr[i] = (t < T && i < HS) ? q[base + static_cast<size_t>(t) * HS + i] * scale : 0.0f;
    o[i] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;

  // Causal: the block's last query is min(T, t0 + kQueries) - 1; later keys are never needed.
  const int last_key = min(T, t0 + kQueries) - 1;
  for (int s0 = 0; s0 <= last_key; s0 += kKeys) {
    // All threads load the tile together: consecutive threads, consecutive floats (coalesced).
    // Columns from HS to kFlashMaxHeadSize and rows past T are zero-filled, so the unrolled
    // loops below never read uninitialised shared memory.
    for (int e = threadIdx.x; e < kKeys * kFlashMaxHeadSize; e += blockDim.x) {
      const int j = e / kFlashMaxHeadSize, i = e % kFlashMaxHeadSize;
      const bool in = s0 + j < T && i < HS;
      k_tile[j][i] = in ? k[base + static_cast<size_t>(s0 + j) * HS + i] : 0.0f;
      v_tile[j][i] = in ? v[base + static_cast<size_t>(s0 + j) * HS + i] : 0.0f;
    }
    __syncthreads();
    if (t < T) {
      const int n = min(kKeys, t - s0 + 1);  // keys of this tile that query t may see
      for (int j = 0; j < n; ++j) {
        float s = 0.0f;  // every thread reads the same k_tile[j][i]: a broadcast, no bank conflict
#pragma unroll
        for (int i = 0; i < kFlashMaxHeadSize; ++i) s += qr[i] * k_tile[j][i];  // both 0 past HS
        const float m_new = fmaxf(m, s);
        const float correction = expf(m - m_new);  // exp(-inf) = 0 on the first key
        const float p = expf(s - m_new);
        l = l * correction + p;
#pragma unroll
        for (int i = 0; i < kFlashMaxHeadSize; ++i) o[i] = o[i] * correction + p * v_tile[j][i];
        m = m_new;
      }
    }
    __syncthreads();  // before the next tile overwrites this one
  }
  if (t >= T) return;
  const float inv = 1.0f / l;
#pragma unroll
  for (int i = 0; i < kFlashMaxHeadSize; ++i)
    if (i < HS) out[base + static_cast<size_t>(t) * HS + i] = o[i] * inv;
  if (lse) lse[static_cast<size_t>(bh) * T + t] = m + logf(l);
}

}  // namespace

void attention_naive(float* out, float* att, const float* q, const float* k, const float* v, int B, int NH,
                     int T, int HS) {
  const int rows = B * NH * T;
  if (rows == 0) return;
  attention_naive_kernel<<<blocks_for(rows, 128), 128>>>(out, att, q, k, v, B * NH, T, HS,
                                                         1.0f / sqrtf(static_cast<float>(HS)));
  GPT2_CUDA_CHECK_LAUNCH("attention_naive_kernel");
}

void attention_flash(float* out, float* lse, const float* q, const float* k, const float* v, int B, int NH,
                     int T, int HS) {
  GPT2_CHECK(HS >= 1 && HS <= kFlashMaxHeadSize, "attention_flash: head size ", HS, " is not in [1, ",
             kFlashMaxHeadSize, "]");
  if (B * NH * T == 0) return;
  const dim3 grid(blocks_for(T, kQueries), B * NH);
  attention_flash_kernel<<<grid, kQueries>>>(out, lse, q, k, v, T, HS, 1.0f / sqrtf(static_cast<float>(HS)));
  GPT2_CUDA_CHECK_LAUNCH("attention_flash_kernel");
}

}  // namespace gpt2::cuda
