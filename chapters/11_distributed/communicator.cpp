#include "communicator.h"

#include <cstring>

#include "common/error.h"

namespace gpt2 {

namespace {

// A collective that was over before it was returned.
class Done : public PendingCollective {
 public:
  bool test() override { return true; }
  void wait() override {}
};

}  // namespace

void check_pieces(const Communicator& comm, const Partition& pieces, const char* what) {
  GPT2_CHECK(pieces.ranks() == comm.size(), what, " on ", comm.where(), ": the partition has ",
             pieces.ranks(), " pieces for ", comm.size(), " ranks");
}

void add_term(float* acc, const float* x, size_t n, bool accumulate) {
  if (n == 0) return;  // an empty piece (more ranks than floats): x may be null, memcpy must not see it
  if (accumulate) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; ++i) acc[i] += x[i];
  } else if (acc != x) {
    std::memcpy(acc, x, n * sizeof(float));
  }
}

std::unique_ptr<PendingCollective> LocalCommunicator::start_reduce(const float* buf, const Partition& pieces,
                                                                   float* acc, bool accumulate) {
  check_pieces(*this, pieces, "LocalCommunicator::start_reduce");
  const Range mine = pieces.piece(0);
  add_term(acc, buf + mine.begin, mine.size(), accumulate);
  return std::make_unique<Done>();
}

std::unique_ptr<PendingCollective> LocalCommunicator::start_all_gather(float* buf, const Partition& pieces,
                                                                       const float* mine) {
  check_pieces(*this, pieces, "LocalCommunicator::start_all_gather");
  const Range piece = pieces.piece(0);
  add_term(buf + piece.begin, mine, piece.size(), /*accumulate=*/false);
  return std::make_unique<Done>();
}

void LocalCommunicator::broadcast(float*, size_t, int root) {
  GPT2_CHECK(root == 0, "LocalCommunicator::broadcast: root ", root, " does not exist in a job of 1 rank");
}

void LocalCommunicator::all_gather_bytes(const void* mine, size_t bytes, void* all) {
  if (bytes > 0) std::memmove(all, mine, bytes);
}

}  // namespace gpt2
