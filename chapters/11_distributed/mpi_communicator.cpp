#include "mpi_communicator.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "common/error.h"

namespace gpt2 {

#define GPT2_MPI_CHECK(call) check_mpi((call), #call, where_)

void check_mpi(int rc, const char* call, const std::string& where) {
  if (rc == MPI_SUCCESS) return;
  char reason[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(rc, reason, &length) != MPI_SUCCESS)
    std::snprintf(reason, sizeof reason, "error %d", rc);
  // The call as written, up to its first '(' : "MPI_Isend(buf, ...)" -> "MPI_Isend".
  const std::string name(call, std::find(call, call + std::char_traits<char>::length(call), '('));
  fail(name, " failed on ", where, ": ", reason);
}

// ----- MpiSession ------------------------------------------------------------------------------

MpiSession::MpiSession(int* argc, char*** argv) {
  int initialized = 0;
  check_mpi(MPI_Initialized(&initialized), "MPI_Initialized", "this process");
  GPT2_CHECK(!initialized, "MpiSession: MPI is already initialised (one MpiSession per process)");
  int provided = 0;
  check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread", "this process");
  GPT2_CHECK(provided >= MPI_THREAD_FUNNELED, "MPI_Init_thread: this MPI offers thread level ", provided,
             ", the watchdog and OpenMP threads need MPI_THREAD_FUNNELED");
}

MpiSession::~MpiSession() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

bool MpiSession::launched_by_mpirun() {
  return launcher_world_size() > 0;
}

// ----- the progress thread ---------------------------------------------------------------------

// While any collective holds a Busy (one each, from its start until it is done), enters MPI
// every kProgressMicroseconds; otherwise sleeps until a collective starts.
class ProgressThread {
 public:
  // `comm` is the thread's own communicator (freed by the caller after the thread is gone).
  explicit ProgressThread(MPI_Comm comm) : comm_(comm), thread_([this] { run(); }) {}
  ~ProgressThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  // Marks one collective in flight, from construction until release() (or destruction).
  class Busy {
   public:
    Busy() = default;
    explicit Busy(ProgressThread* thread) : thread_(thread) {
      if (thread_) thread_->add(+1);
    }
    Busy(Busy&& other) noexcept : thread_(std::exchange(other.thread_, nullptr)) {}
    Busy& operator=(Busy&&) = delete;
    ~Busy() { release(); }
    void release() {
      if (thread_) std::exchange(thread_, nullptr)->add(-1);
    }

   private:
    ProgressThread* thread_ = nullptr;
  };

 private:
  void add(int delta) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ += delta;
    }
    if (delta > 0) wake_.notify_one();
  }

  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [this] { return stop_ || busy_ > 0; });
      if (stop_) return;
      lock.unlock();
      // Any MPI call runs MPI's progress engine, which moves every message in flight one step
      // on. Nothing is ever sent on comm_, so the probe itself never finds anything; its return
      // code is not checked: if a peer has failed, the main thread's own call reports it.
      int flag = 0;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, MPI_STATUS_IGNORE);
      std::this_thread::sleep_for(std::chrono::microseconds(kProgressMicroseconds));
      lock.lock();
    }
  }

  MPI_Comm comm_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int busy_ = 0;
  bool stop_ = false;
  std::thread thread_;  // last: it starts once the members above exist
};

// ----- the reduce: rank-order sums at the owners -----------------------------------------------

namespace {

// Counts and offsets are ints in MPI; one piece must fit.
int checked_count(size_t n, const std::string& where) {
  GPT2_CHECK(n <= static_cast<size_t>(INT_MAX), "MPI communicator on ", where, ": a piece of ", n,
             " floats is more than MPI's int counts hold; use smaller buckets");
  return static_cast<int>(n);
}

class MpiReduce : public PendingCollective {
 public:
  MpiReduce(MPI_Comm comm, Watchdog& watchdog, ProgressThread::Busy busy, const std::string& where, int rank,
            const float* buf, const Partition& pieces, float* acc, bool accumulate, int tag)
      : watchdog_(watchdog),
        busy_(std::move(busy)),
        where_(where),
        rank_(rank),
        mine_(pieces.piece(rank)),
        own_(buf + mine_.begin),
        acc_(acc),
        accumulate_(accumulate),
        recvs_(pieces.ranks(), MPI_REQUEST_NULL) {
    const int N = pieces.ranks();
    const int count = checked_count(mine_.size(), where);
    staging_.resize(mine_.size() * static_cast<size_t>(N - 1));
    // Contributions to my piece: one receive per other rank, slot q (or q - 1 after my own rank).
    if (count > 0) {
      for (int q = 0; q < N; ++q) {
        if (q == rank_) continue;
        float* slot = staging_.data() + static_cast<size_t>(q < rank_ ? q : q - 1) * mine_.size();
        GPT2_MPI_CHECK(MPI_Irecv(slot, count, MPI_FLOAT, q, tag, comm, &recvs_[q]));
      }
    }
    // My contributions to the other owners' pieces.
    for (int q = 0; q < N; ++q) {
      const Range p = pieces.piece(q);
      if (q == rank_ || p.empty()) continue;
      sends_.push_back(MPI_REQUEST_NULL);
      GPT2_MPI_CHECK(
          MPI_Isend(buf + p.begin, checked_count(p.size(), where), MPI_FLOAT, q, tag, comm, &sends_.back()));
    }
  }

  ~MpiReduce() override {
    // Destroyed before it finished: only on the way out of an error, while the job is being
    // aborted (run_rank). Waiting here could hang (the peers may be waiting for something else),
    // hiding the error; so the requests are left to the abort, and the staging memory MPI may
    // still write into is deliberately not freed.
    if (!done_) new std::vector<float>(std::move(staging_));
  }

  bool test() override { return advance(/*block=*/false); }
  void wait() override {
    Watchdog::Guard guard = watchdog_.watch("the reduce of a gradient piece");
    advance(/*block=*/true);
  }

 private:
  // Adds the contributions in rank order as far as they have arrived (all of them if block).
  bool advance(bool block) {
    const int N = static_cast<int>(recvs_.size());
    for (; next_ < N; ++next_) {
      const float* term = own_;
      if (next_ != rank_) {
        if (mine_.empty()) continue;
        if (block) {
          GPT2_MPI_CHECK(MPI_Wait(&recvs_[next_], MPI_STATUS_IGNORE));
        } else {
          int arrived = 0;
          GPT2_MPI_CHECK(MPI_Test(&recvs_[next_], &arrived, MPI_STATUS_IGNORE));
          if (!arrived) return false;
        }
        term = staging_.data() + static_cast<size_t>(next_ < rank_ ? next_ : next_ - 1) * mine_.size();
      }
      add_term(acc_, term, mine_.size(), accumulate_ || next_ > 0);
    }
    if (block) {
      GPT2_MPI_CHECK(MPI_Waitall(static_cast<int>(sends_.size()), sends_.data(), MPI_STATUSES_IGNORE));
    } else {
      int sent = 0;
      GPT2_MPI_CHECK(MPI_Testall(static_cast<int>(sends_.size()), sends_.data(), &sent, MPI_STATUSES_IGNORE));
      if (!sent) return false;
    }
    done_ = true;
    busy_.release();
    return true;
  }

  Watchdog& watchdog_;
  ProgressThread::Busy busy_;
  std::string where_;
  int rank_;
  Range mine_;
  const float* own_;
  float* acc_;
  bool accumulate_;
  std::vector<float> staging_;      // (N - 1) pieces of my size, one per other rank
  std::vector<MPI_Request> recvs_;  // [N], per source rank
  std::vector<MPI_Request> sends_;  // one per non-empty other piece
  int next_ = 0;                    // the next rank whose contribution is added
  bool done_ = false;
};

class MpiAllGather : public PendingCollective {
 public:
  MpiAllGather(MPI_Comm comm, Watchdog& watchdog, ProgressThread::Busy busy, const std::string& where,
               int rank, float* buf, const Partition& pieces, const float* mine)
      : watchdog_(watchdog), busy_(std::move(busy)), where_(where) {
    const int N = pieces.ranks();
    const Range mine_range = pieces.piece(rank);
    add_term(buf + mine_range.begin, mine, mine_range.size(), /*accumulate=*/false);
    const size_t base = pieces.range().begin;
    counts_.resize(N);
    offsets_.resize(N);
    for (int q = 0; q < N; ++q) {
      counts_[q] = checked_count(pieces.piece(q).size(), where);
      offsets_[q] = checked_count(pieces.piece(q).begin - base, where);
    }
    // In place: my piece is already where it belongs in buf. The counts and offsets must live
    // until the collective completes, so they are members.
    GPT2_MPI_CHECK(MPI_Iallgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf + base, counts_.data(),
                                   offsets_.data(), MPI_FLOAT, comm, &request_));
  }
  bool test() override {
    int done = 0;
    GPT2_MPI_CHECK(MPI_Test(&request_, &done, MPI_STATUS_IGNORE));
    if (done) busy_.release();
    return done != 0;
  }
  void wait() override {
    Watchdog::Guard guard = watchdog_.watch("the all-gather of a buffer");
    GPT2_MPI_CHECK(MPI_Wait(&request_, MPI_STATUS_IGNORE));
    busy_.release();
  }

 private:
  Watchdog& watchdog_;
  ProgressThread::Busy busy_;
  std::string where_;
  std::vector<int> counts_, offsets_;
  MPI_Request request_ = MPI_REQUEST_NULL;
};

}  // namespace

// ----- MpiCommunicator -------------------------------------------------------------------------

MpiCommunicator::MpiCommunicator(MPI_Comm comm, double timeout_seconds) {
  where_ = "an MPI rank";
  GPT2_MPI_CHECK(MPI_Comm_dup(comm, &comm_));
  GPT2_MPI_CHECK(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN));
  GPT2_MPI_CHECK(MPI_Comm_rank(comm_, &rank_));
  GPT2_MPI_CHECK(MPI_Comm_size(comm_, &size_));
  char host[MPI_MAX_PROCESSOR_NAME] = {0};
  int length = 0;
  GPT2_MPI_CHECK(MPI_Get_processor_name(host, &length));
  where_ = cat("rank ", rank_, " of ", size_, " (host ", host, ", pid ", static_cast<long>(getpid()), ")");

  // The ranks on this machine: a communicator of the processes that share memory with this one.
  MPI_Comm local = MPI_COMM_NULL;
  GPT2_MPI_CHECK(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local));
  GPT2_MPI_CHECK(MPI_Comm_rank(local, &local_rank_));
  GPT2_MPI_CHECK(MPI_Comm_size(local, &local_size_));
  GPT2_MPI_CHECK(MPI_Comm_free(&local));

  int* tag_ub = nullptr;
  int found = 0;
  GPT2_MPI_CHECK(MPI_Comm_get_attr(comm_, MPI_TAG_UB, &tag_ub, &found));
  if (found && tag_ub) tag_limit_ = *tag_ub;
  watchdog_ = std::make_unique<Watchdog>(timeout_seconds, where_);

  // Every rank runs the same MPI, so every rank takes this branch or none (MPI_Comm_dup is a
  // collective).
  int level = MPI_THREAD_SINGLE;
  GPT2_MPI_CHECK(MPI_Query_thread(&level));
  if (level == MPI_THREAD_MULTIPLE) {
    GPT2_MPI_CHECK(MPI_Comm_dup(comm_, &progress_comm_));
    progress_ = std::make_unique<ProgressThread>(progress_comm_);
  }
}

MpiCommunicator::~MpiCommunicator() {
  progress_.reset();  // the thread stops before its communicator goes
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && progress_comm_ != MPI_COMM_NULL) MPI_Comm_free(&progress_comm_);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

int MpiCommunicator::next_tag() {
  // Every rank starts the same collectives in the same order, so the counters agree; a fresh tag
  // per collective keeps the messages of buckets in flight at the same time apart.
  tag_ = tag_ >= tag_limit_ ? 0 : tag_ + 1;
  return tag_;
}

std::unique_ptr<PendingCollective> MpiCommunicator::start_reduce(const float* buf, const Partition& pieces,
                                                                 float* acc, bool accumulate) {
  check_pieces(*this, pieces, "MpiCommunicator::start_reduce");
  return std::make_unique<MpiReduce>(comm_, *watchdog_, ProgressThread::Busy(progress_.get()), where_, rank_,
                                     buf, pieces, acc, accumulate, next_tag());
}

std::unique_ptr<PendingCollective> MpiCommunicator::start_all_gather(float* buf, const Partition& pieces,
                                                                     const float* mine) {
  check_pieces(*this, pieces, "MpiCommunicator::start_all_gather");
  return std::make_unique<MpiAllGather>(comm_, *watchdog_, ProgressThread::Busy(progress_.get()), where_,
                                        rank_, buf, pieces, mine);
}

void MpiCommunicator::all_reduce_sum(float* buf, size_t n) {
  // In segments of N pieces of at most 4M floats, so the staging memory stays bounded (16 MB per
  // other rank) for any buffer size.
  const size_t segment = static_cast<size_t>(size_) * (size_t{1} << 22);
  std::vector<float> acc;
  for (size_t begin = 0; begin < n; begin += segment) {
    const Partition pieces = Partition::split({begin, std::min(n, begin + segment)}, size_);
    acc.resize(pieces.piece(rank_).size());
    reduce(buf, pieces, acc.data(), /*accumulate=*/false);
    all_gather(buf, pieces, acc.data());
  }
}

void MpiCommunicator::broadcast(float* buf, size_t n, int root) {
  broadcast_bytes(buf, n * sizeof(float), root);
}

void MpiCommunicator::broadcast_bytes(void* data, size_t bytes, int root) {
  GPT2_CHECK(root >= 0 && root < size_, "MpiCommunicator::broadcast: root ", root, " is not a rank of ",
             size_);
  Watchdog::Guard guard = watchdog_->watch("a broadcast");
  auto* p = static_cast<char*>(data);
  for (size_t done = 0; done < bytes;) {  // MPI counts are ints
    const size_t chunk = std::min<size_t>(bytes - done, size_t{1} << 30);
    GPT2_MPI_CHECK(MPI_Bcast(p + done, static_cast<int>(chunk), MPI_BYTE, root, comm_));
    done += chunk;
  }
}

void MpiCommunicator::barrier() {
  Watchdog::Guard guard = watchdog_->watch("a barrier");
  GPT2_MPI_CHECK(MPI_Barrier(comm_));
}

void MpiCommunicator::all_gather_bytes(const void* mine, size_t bytes, void* all) {
  Watchdog::Guard guard = watchdog_->watch("an all-gather of host values");
  const int count = checked_count(bytes, where_);
  GPT2_MPI_CHECK(MPI_Allgather(mine, count, MPI_BYTE, all, count, MPI_BYTE, comm_));
}

void MpiCommunicator::abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "error: %s: %s\n", where_.c_str(), message.c_str());
  std::fflush(stderr);
  MPI_Abort(comm_ != MPI_COMM_NULL ? comm_ : MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; should it, do not go on either
}

int run_rank(MpiCommunicator& comm, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    comm.abort_job(e.what());
  } catch (...) {
    comm.abort_job("an unknown exception");
  }
}

}  // namespace gpt2
