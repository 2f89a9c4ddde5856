#include "nccl_communicator.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <nccl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "chapters/09_cuda/cuda_check.h"
#include "common/error.h"

namespace gpt2 {

namespace {

// Throws gpt2::Error "ncclSend failed on rank 1 of 2 (...): unhandled system error (last: ...)".
void check_nccl(ncclResult_t rc, const char* call, const std::string& where) {
  if (rc == ncclSuccess) return;
  const std::string name(call, std::find(call, call + std::strlen(call), '('));
  const char* last = ncclGetLastError(nullptr);
  fail(name, " failed on ", where, ": ", ncclGetErrorString(rc), last && *last ? cat(" (", last, ")") : "");
}

}  // namespace

#define GPT2_NCCL_CHECK(call) check_nccl((call), #call, where_)

struct NcclCommunicator::State {
  MpiCommunicator* mpi = nullptr;
  int device = 0;
  ncclComm_t comm = nullptr;
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;  // on `stream`, for the additions
};

namespace {

// A collective queued on the communicator's stream, finished when its event has fired.
class NcclPending : public PendingCollective {
 public:
  NcclPending(ncclComm_t comm, cudaStream_t stream, Watchdog& watchdog, std::string where, const char* what)
      : comm_(comm), watchdog_(watchdog), where_(std::move(where)), what_(what) {
    GPT2_CUDA_CHECK(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming));
    GPT2_CUDA_CHECK(cudaEventRecord(done_, stream));
  }
  // Never waits: a collective destroyed unfinished is on the way out of an error, and waiting
  // for a peer that is gone would hang instead of reporting it. (The staging memory was freed in
  // stream order, after the transfers.)
  ~NcclPending() override { cudaEventDestroy(done_); }
  bool test() override {
    if (finished_) return true;
    const cudaError_t status = cudaEventQuery(done_);
    if (status == cudaErrorNotReady) {
      check_async();
      return false;
    }
    cuda::check_cuda(status, "cudaEventQuery(done)", __FILE__, __LINE__);
    finished_ = true;
    return true;
  }
  void wait() override {
    Watchdog::Guard guard = watchdog_.watch(what_);
    // Poll rather than block in cudaEventSynchronize: a peer that died shows up as an
    // asynchronous NCCL error, never as the event firing.
    while (!test()) usleep(50);
  }

 private:
  void check_async() {
    ncclResult_t async = ncclSuccess;
    GPT2_NCCL_CHECK(ncclCommGetAsyncError(comm_, &async));
    if (async != ncclSuccess && async != ncclInProgress) GPT2_NCCL_CHECK(async);
  }

  ncclComm_t comm_;
  Watchdog& watchdog_;
  std::string where_;
  const char* what_;
  cudaEvent_t done_ = nullptr;
  bool finished_ = false;
};

// The communicator's stream waits for what the default stream has queued so far (the gradients
// or parameters a collective is about to read).
void follow_default_stream(cudaStream_t stream) {
  cudaEvent_t queued = nullptr;
  GPT2_CUDA_CHECK(cudaEventCreateWithFlags(&queued, cudaEventDisableTiming));
  GPT2_CUDA_CHECK(cudaEventRecord(queued, cudaStreamLegacy));
  GPT2_CUDA_CHECK(cudaStreamWaitEvent(stream, queued, 0));
  GPT2_CUDA_CHECK(cudaEventDestroy(queued));
}

}  // namespace

std::string NcclCommunicator::unusable_reason(MpiCommunicator& mpi) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  std::string reason;
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    reason = cat("no usable CUDA device on ", mpi.where(), " (", cudaGetErrorString(status), ")");
  } else if (count < mpi.local_size()) {
    reason = cat(mpi.where(), " sees ", count, " GPU(s) for ", mpi.local_size(),
                 " ranks on its machine; NCCL needs one GPU per rank");
  }
  // The same answer everywhere: the first rank's reason, if any rank has one.
  const int mine = reason.empty() ? 0 : 1;
  const std::vector<int> all = mpi.all_gather_values<int>(std::span<const int>(&mine, 1));
  if (std::find(all.begin(), all.end(), 1) != all.end() && reason.empty()) {
    reason = "another rank cannot use NCCL (see its message)";
  }
  return reason;
}

NcclCommunicator::NcclCommunicator(MpiCommunicator& mpi) : state_(std::make_unique<State>()) {
  const std::string where_ = mpi.where();
  state_->mpi = &mpi;
  int count = 0;
  GPT2_CUDA_CHECK(cudaGetDeviceCount(&count));
  GPT2_CHECK(count >= mpi.local_size(), where_, ": ", count, " GPU(s) for ", mpi.local_size(),
             " ranks on this machine; NCCL needs one GPU per rank (start fewer ranks per machine)");
  state_->device = mpi.local_rank();
  GPT2_CUDA_CHECK(cudaSetDevice(state_->device));

  ncclUniqueId id;
  if (mpi.rank() == 0) GPT2_NCCL_CHECK(ncclGetUniqueId(&id));
  mpi.broadcast_bytes(&id, sizeof id, 0);
  {
    Watchdog::Guard guard = mpi.watchdog().watch("joining the NCCL communicator");
    GPT2_NCCL_CHECK(ncclCommInitRank(&state_->comm, mpi.size(), id, mpi.rank()));
  }
  GPT2_CUDA_CHECK(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking));
  GPT2_CUBLAS_CHECK(cublasCreate(&state_->blas));
  GPT2_CUBLAS_CHECK(cublasSetStream(state_->blas, state_->stream));
}

NcclCommunicator::~NcclCommunicator() {
  if (state_->stream) cudaStreamSynchronize(state_->stream);
  if (state_->blas) cublasDestroy(state_->blas);
  if (state_->comm) ncclCommDestroy(state_->comm);
  if (state_->stream) cudaStreamDestroy(state_->stream);
}

int NcclCommunicator::rank() const {
  return state_->mpi->rank();
}
int NcclCommunicator::size() const {
  return state_->mpi->size();
}
std::string NcclCommunicator::where() const {
  return cat(state_->mpi->where(), ", GPU ", state_->device);
}
int NcclCommunicator::device() const {
  return state_->device;
}

std::unique_ptr<PendingCollective> NcclCommunicator::start_reduce(const float* buf, const Partition& pieces,
                                                                  float* acc, bool accumulate) {
  const std::string where_ = where();
  const int N = size(), me = rank();
  check_pieces(*this, pieces, "NcclCommunicator::start_reduce");
  cudaStream_t stream = state_->stream;
  follow_default_stream(stream);
  const Range mine = pieces.piece(me);
  float* staging = nullptr;
  if (N > 1 && !mine.empty()) {
    GPT2_CUDA_CHECK(cudaMallocAsync(&staging, mine.size() * (N - 1) * sizeof(float), stream));
  }
  // Every piece to its owner, all transfers in one group.
  GPT2_NCCL_CHECK(ncclGroupStart());
  for (int q = 0; q < N; ++q) {
    if (q == me) continue;
    if (!mine.empty()) {
      float* slot = staging + static_cast<size_t>(q < me ? q : q - 1) * mine.size();
      GPT2_NCCL_CHECK(ncclRecv(slot, mine.size(), ncclFloat, q, state_->comm, stream));
    }
    const Range theirs = pieces.piece(q);
    if (!theirs.empty()) {
      GPT2_NCCL_CHECK(ncclSend(buf + theirs.begin, theirs.size(), ncclFloat, q, state_->comm, stream));
    }
  }
  GPT2_NCCL_CHECK(ncclGroupEnd());
  // Then the N contributions added in rank order, on the same stream (so after the transfers):
  // acc = t_0 (or acc + t_0), then acc + t_1, ... A saxpy with alpha = 1 computes round(1·x + y)
  // = round(x + y), with or without a fused multiply-add: one IEEE addition.
  const float one = 1.0f;
  for (int q = 0; q < N && !mine.empty(); ++q) {
    const float* term =
        q == me ? buf + mine.begin : staging + static_cast<size_t>(q < me ? q : q - 1) * mine.size();
    if (q == 0 && !accumulate) {
      GPT2_CUDA_CHECK(
          cudaMemcpyAsync(acc, term, mine.size() * sizeof(float), cudaMemcpyDeviceToDevice, stream));
    } else {
      GPT2_CUBLAS_CHECK(
          cublasSaxpy_64(state_->blas, static_cast<int64_t>(mine.size()), &one, term, 1, acc, 1));
    }
  }
  if (staging) GPT2_CUDA_CHECK(cudaFreeAsync(staging, stream));
  return std::make_unique<NcclPending>(state_->comm, stream, state_->mpi->watchdog(), where_,
                                       "the reduce of a gradient piece (NCCL)");
}

std::unique_ptr<PendingCollective> NcclCommunicator::start_all_gather(float* buf, const Partition& pieces,
                                                                      const float* mine) {
  const std::string where_ = where();
  const int N = size(), me = rank();
  check_pieces(*this, pieces, "NcclCommunicator::start_all_gather");
  cudaStream_t stream = state_->stream;
  follow_default_stream(stream);
  const Range own = pieces.piece(me);
  if (!own.empty() && buf + own.begin != mine) {
    GPT2_CUDA_CHECK(
        cudaMemcpyAsync(buf + own.begin, mine, own.size() * sizeof(float), cudaMemcpyDeviceToDevice, stream));
  }
  GPT2_NCCL_CHECK(ncclGroupStart());
  for (int q = 0; q < N; ++q) {
    if (q == me) continue;
    if (!own.empty())
      GPT2_NCCL_CHECK(ncclSend(buf + own.begin, own.size(), ncclFloat, q, state_->comm, stream));
    const Range theirs = pieces.piece(q);
    if (!theirs.empty()) {
      GPT2_NCCL_CHECK(ncclRecv(buf + theirs.begin, theirs.size(), ncclFloat, q, state_->comm, stream));
    }
  }
  GPT2_NCCL_CHECK(ncclGroupEnd());
  return std::make_unique<NcclPending>(state_->comm, stream, state_->mpi->watchdog(), where_,
                                       "the all-gather of a buffer (NCCL)");
}

void NcclCommunicator::broadcast(float* buf, size_t n, int root) {
  const std::string where_ = where();
  GPT2_CHECK(root >= 0 && root < size(), "NcclCommunicator::broadcast: root ", root, " is not a rank of ",
             size());
  follow_default_stream(state_->stream);
  GPT2_NCCL_CHECK(ncclBroadcast(buf, buf, n, ncclFloat, root, state_->comm, state_->stream));
  NcclPending(state_->comm, state_->stream, state_->mpi->watchdog(), where_, "a broadcast (NCCL)").wait();
}

void NcclCommunicator::barrier() {
  GPT2_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
  state_->mpi->barrier();
}

void NcclCommunicator::all_reduce_sum(float* buf, size_t n) {
  const Partition pieces = Partition::split({0, n}, size());
  const size_t mine = pieces.piece(rank()).size();
  float* acc = nullptr;
  if (mine > 0) GPT2_CUDA_CHECK(cudaMallocAsync(&acc, mine * sizeof(float), state_->stream));
  reduce(buf, pieces, acc, /*accumulate=*/false);
  all_gather(buf, pieces, acc);
  if (acc) GPT2_CUDA_CHECK(cudaFreeAsync(acc, state_->stream));
  GPT2_CUDA_CHECK(cudaStreamSynchronize(state_->stream));
}

void NcclCommunicator::all_gather_bytes(const void* mine, size_t bytes, void* all) {
  // Host values go through MPI.
  const auto* p = static_cast<const unsigned char*>(mine);
  const std::vector<unsigned char> gathered =
      state_->mpi->all_gather_values<unsigned char>(std::span<const unsigned char>(p, bytes));
  std::memcpy(all, gathered.data(), gathered.size());
}

}  // namespace gpt2
