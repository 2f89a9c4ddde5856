// Sums, deterministic: over the rows of a matrix (the bias gradient of a linear layer), and of
// a whole buffer into one double (the model's loss, the gradient norm).
//
// dbias[c] = sum over N rows of dout[r, c]. One thread per column would be simple and coalesced
// (a warp reads 32 neighbouring columns of a row at once) but for GPT-2's C = 768 it keeps only
// 768 threads busy, a few percent of a GPU. So the rows are cut into kReduceChunks fixed chunks:
// stage 1 runs C x kReduceChunks threads, each summing its chunk of one column into a partial
// sum; stage 2 adds the partial sums of each column in chunk order. With atomicAdd the order of
// the additions, and so the rounding, would change from run to run; here it never does.
#include "chapters/09_cuda/cuda_common.cuh"
#include "chapters/09_cuda/kernels.h"

namespace gpt2::cuda {

namespace {

// grid (ceil(C / 256), kReduceChunks): partial[chunk, c] = sum of inp[r, c] over the chunk's rows.
__global__ void column_sum_partial_kernel(float* partial, const float* inp, int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  const int chunk = blockIdx.y;
  const int rows_per_chunk = (N + gridDim.y - 1) / gridDim.y;
  const int begin = chunk * rows_per_chunk;
  const int end = min(N, begin + rows_per_chunk);
  float sum = 0.0f;
  for (int r = begin; r < end; ++r) sum += inp[static_cast<size_t>(r) * C + c];
  partial[static_cast<size_t>(chunk) * C + c] = sum;
}

__global__ void sum_chunks_add_kernel(float* out, const float* partial, int chunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float sum = 0.0f;
  for (int k = 0; k < chunks; ++k) sum += partial[static_cast<size_t>(k) * C + c];
  out[c] += sum;
}

// The sum of `shared`'s blockDim.x doubles, by a tree whose shape depends only on blockDim.x (a
// power of two): the same additions in the same order on every run. Thread 0 gets the result.
__device__ double block_tree_sum(double* shared) {
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    __syncthreads();
    if (static_cast<int>(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
  }
  __syncthreads();
  return shared[0];
}

constexpr int kSumThreads = 1024;

// One block: thread j adds x[j], x[j + 1024], ... in order, then the tree adds the threads.
__global__ void sum_to_double_kernel(double* result, const float* x, size_t n) {
  __shared__ double shared[kSumThreads];
  double s = 0.0;
  for (size_t i = threadIdx.x; i < n; i += kSumThreads) s += x[i];
  shared[threadIdx.x] = s;
  const double total = block_tree_sum(shared);
  if (threadIdx.x == 0) *result = total;
}

// One block per chunk of `chunk` elements: partial[block] = sum of x_i^2 over the chunk.
constexpr int kSquaresThreads = 256;
__global__ void sum_squares_partial_kernel(double* partial, const float* x, size_t n, size_t chunk) {
  __shared__ double shared[kSquaresThreads];
  const size_t begin = static_cast<size_t>(blockIdx.x) * chunk;
  const size_t end = begin + chunk < n ? begin + chunk : n;
  double s = 0.0;
  for (size_t i = begin + threadIdx.x; i < end; i += kSquaresThreads) {
    const double v = x[i];
    s += v * v;
  }
  shared[threadIdx.x] = s;
  const double total = block_tree_sum(shared);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// One thread adds the chunks' sums in chunk order (a few thousand doubles).
__global__ void sum_partials_kernel(double* result, const double* partial, size_t chunks) {
  double s = 0.0;
  for (size_t k = 0; k < chunks; ++k) s += partial[k];
  *result = s;
}

__global__ void add_bias_kernel(float* out, const float* bias, int N, int C) {
  const size_t idx = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= static_cast<size_t>(N) * C) return;
  out[idx] += bias[idx % C];
}

}  // namespace

size_t column_reduce_scratch_floats(int /*N*/, int C) {
  return static_cast<size_t>(2) * kReduceChunks * C;
}

void sum_chunks_add(float* out, const float* partial, int chunks, int C) {
  sum_chunks_add_kernel<<<blocks_for(C, 256), 256>>>(out, partial, chunks, C);
  GPT2_CUDA_CHECK_LAUNCH("sum_chunks_add_kernel");
}

void column_sum_add(float* out, const float* inp, int N, int C, float* scratch) {
  if (N == 0 || C == 0) return;
  column_sum_partial_kernel<<<dim3(blocks_for(C, 256), kReduceChunks), 256>>>(scratch, inp, N, C);
  GPT2_CUDA_CHECK_LAUNCH("column_sum_partial_kernel");
  sum_chunks_add(out, scratch, kReduceChunks, C);
}

void sum_to_double(double* result, const float* x, size_t n) {
  sum_to_double_kernel<<<1, kSumThreads>>>(result, x, n);
  GPT2_CUDA_CHECK_LAUNCH("sum_to_double_kernel");
}

void sum_squares_to_double(double* result, double* partial, const float* x, size_t n, size_t chunk) {
  const size_t chunks = (n + chunk - 1) / chunk;
  if (chunks > 0) {
    sum_squares_partial_kernel<<<static_cast<unsigned int>(chunks), kSquaresThreads>>>(partial, x, n, chunk);
    GPT2_CUDA_CHECK_LAUNCH("sum_squares_partial_kernel");
  }
  sum_partials_kernel<<<1, 1>>>(result, partial, chunks);
  GPT2_CUDA_CHECK_LAUNCH("sum_partials_kernel");
}

void add_bias(float* out, const float* bias, int N, int C) {
  const size_t n = static_cast<size_t>(N) * C;
  if (n == 0) return;
  add_bias_kernel<<<blocks_for(n, 256), 256>>>(out, bias, N, C);
  GPT2_CUDA_CHECK_LAUNCH("add_bias_kernel");
}

}  // namespace gpt2::cuda
