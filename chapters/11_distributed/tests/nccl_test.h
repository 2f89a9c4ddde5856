// The NCCL tests under `mpirun -np 2`, one GPU per rank.
#pragma once

#include "chapters/11_distributed/mpi_communicator.h"
#include "chapters/11_distributed/nccl_communicator.h"

namespace ch11_test {

gpt2::MpiCommunicator& mpi_world();
gpt2::NcclCommunicator& nccl_world();

}  // namespace ch11_test
