/// @file ring_allreduce.h
/// @brief The ring all-reduce on simulated ranks: N buffers in one process, and every message
/// counted.
///
/// An all-reduce leaves on every rank the element-wise sum of all ranks' buffers. The obvious way,
/// "everyone sends to rank 0, rank 0 adds and sends the sum back" (gather_all_reduce), makes
/// rank 0 receive and send (N − 1)·n floats: its link carries N − 1 buffers each way while the
/// others idle, and the time grows with N.
///
/// The ring (Patarasuk and Yuan, 2009; what NCCL and Horovod popularised for deep learning) cuts
/// the buffer into N chunks and arranges the ranks in a circle, each sending only to its right
/// neighbour r + 1 (mod N):
///
///  1. reduce-scatter, N − 1 steps: in step s rank r sends chunk (r − s) mod N to rank r + 1,
///     which adds it into its own copy of that chunk. After N − 1 steps rank r holds the complete
///     sum of chunk (r + 1) mod N.
///  2. all-gather, N − 1 steps: in step s rank r sends chunk (r + 1 − s) mod N, now complete, to
///     rank r + 1, which overwrites its copy. After N − 1 steps every rank has every chunk.
///
/// Each step every rank sends one chunk of n/N floats and receives one, all links busy at once.
/// Per rank: 2(N − 1)·n/N floats out and the same in, below 2n whatever N is. No algorithm can
/// do with less: every rank must receive the other ranks' contributions to the n − n/N elements
/// it does not reduce itself, and then the n − n/N reduced elements it did not compute.
///
/// The sums come out in a fixed order, but not in rank order: chunk c is added up along the
/// ring, g_{c−1} + (⋯ + (g_{c+1} + g_c)). That is why the MPI communicator of this chapter
/// (mpi_communicator.h) does not use a ring: it must equal one process adding the ranks' buffers
/// in rank order, bit for bit.
#pragma once

#include <cstddef>
#include <vector>

namespace gpt2 {

/// What an all-reduce moved, per rank.
struct AllReduceTraffic {
  std::vector<size_t> floats_sent;      ///< [N] floats each rank sent
  std::vector<size_t> floats_received;  ///< [N] floats each rank received
  int steps = 0;                        ///< rounds of messages (ring: 2(N − 1))
};

/// Ring all-reduce (sum) of N = buffers.size() buffers of equal length, simulated step by step:
/// in every step all ranks "send" at once (the messages are copied out before any is delivered).
/// Afterwards every buffer holds the sum, with the same bits on every rank.
AllReduceTraffic ring_all_reduce(std::vector<std::vector<float>>& buffers);

/// The naive all-reduce for comparison: rank 0 receives every other buffer, adds them in rank
/// order, and sends the sum to every rank.
AllReduceTraffic gather_all_reduce(std::vector<std::vector<float>>& buffers);

}  // namespace gpt2
