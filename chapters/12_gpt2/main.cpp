// gpt2: the course's one program. `gpt2 --help` lists the commands; each command lives in a
// cmd_*.cpp file of this folder (see commands.h). Started by mpirun, it runs as one rank of a job
// (ranks.h).
#include <iostream>
#include <string>
#include <vector>

#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/ranks.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (gpt2::started_by_mpirun()) return gpt2::run_gpt2_as_rank(&argc, &argv, args);
    return gpt2::run_gpt2(args, {std::cin, std::cout, std::cerr});
  } catch (const std::exception& e) {  // not a gpt2::Error: a bug or out of memory
    std::cerr << "gpt2: internal error: " << e.what() << "\n";
    return 3;
  }
}
