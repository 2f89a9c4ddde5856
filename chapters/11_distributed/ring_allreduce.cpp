#include "ring_allreduce.h"

#include <algorithm>

#include "chapters/11_distributed/partition.h"
#include "common/error.h"

namespace gpt2 {

namespace {

void check_buffers(const std::vector<std::vector<float>>& buffers) {
  GPT2_CHECK(!buffers.empty(), "all-reduce: no ranks");
  for (size_t r = 1; r < buffers.size(); ++r) {
    GPT2_CHECK(buffers[r].size() == buffers[0].size(), "all-reduce: rank ", r, " has ", buffers[r].size(),
               " floats, rank 0 has ", buffers[0].size());
  }
}

// One message of a simulated step: `from` sends chunk `chunk` to `to`.
struct Message {
  int from, to;
  Range chunk;
  std::vector<float> data;
};

}  // namespace

AllReduceTraffic ring_all_reduce(std::vector<std::vector<float>>& buffers) {
  check_buffers(buffers);
  const int N = static_cast<int>(buffers.size());
  const Partition chunks = Partition::split({0, buffers[0].size()}, N);
  AllReduceTraffic traffic{std::vector<size_t>(N, 0), std::vector<size_t>(N, 0), 0};

  // Rank r sends chunk chunk_of(r, s) to rank r + 1 in step s of a phase.
  auto run_phase = [&](auto chunk_of, bool add) {
    for (int s = 0; s < N - 1; ++s) {
      std::vector<Message> messages;
      for (int r = 0; r < N; ++r) {
        const Range c = chunks.piece(chunk_of(r, s));
        messages.push_back({r, (r + 1) % N, c,
                            std::vector<float>(buffers[r].begin() + c.begin, buffers[r].begin() + c.end)});
      }
      for (const Message& m : messages) {  // every send of the step happened before any delivery
        float* dst = buffers[m.to].data() + m.chunk.begin;
        for (size_t i = 0; i < m.data.size(); ++i) dst[i] = add ? dst[i] + m.data[i] : m.data[i];
        traffic.floats_sent[m.from] += m.data.size();
        traffic.floats_received[m.to] += m.data.size();
      }
      ++traffic.steps;
    }
  };
  // Reduce-scatter: chunk (r - s) mod N moves on and is added to; after N - 1 steps rank r holds
  // the full sum of chunk (r + 1) mod N.
  run_phase([N](int r, int s) { return ((r - s) % N + N) % N; }, /*add=*/true);
  // All-gather: rank r passes on the complete chunk it received last, starting with its own.
  run_phase([N](int r, int s) { return ((r + 1 - s) % N + N) % N; }, /*add=*/false);
  return traffic;
}

AllReduceTraffic gather_all_reduce(std::vector<std::vector<float>>& buffers) {
  check_buffers(buffers);
  const int N = static_cast<int>(buffers.size());
  const size_t n = buffers[0].size();
  AllReduceTraffic traffic{std::vector<size_t>(N, 0), std::vector<size_t>(N, 0), N > 1 ? 2 : 0};
  std::vector<float>& sum = buffers[0];
  for (int r = 1; r < N; ++r) {  // rank 0 receives buffer r and adds it, in rank order
    for (size_t i = 0; i < n; ++i) sum[i] += buffers[r][i];
    traffic.floats_sent[r] += n;
    traffic.floats_received[0] += n;
  }
  for (int r = 1; r < N; ++r) {  // and sends the sum back
    std::copy(sum.begin(), sum.end(), buffers[r].begin());
    traffic.floats_sent[0] += n;
    traffic.floats_received[r] += n;
  }
  return traffic;
}

}  // namespace gpt2
