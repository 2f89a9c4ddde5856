// The tests that run under `mpirun -np 2`: every rank runs the same Catch2 test cases, in the same
// order, so their collectives meet. world() is the job's communicator.
#pragma once

#include "chapters/11_distributed/mpi_communicator.h"

namespace ch11_test {

/// MPI_COMM_WORLD as an MpiCommunicator, with a watchdog of 60 s: a test that leaves one rank
/// waiting ends the job with a message instead of hanging until CTest's timeout.
gpt2::MpiCommunicator& world();

}  // namespace ch11_test
