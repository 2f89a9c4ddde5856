/// @file fingerprint.h
/// @brief Checking at start that every rank runs the same binary with the same options and data.
///
/// A data-parallel job is only right if all ranks compute the same function on their share of the
/// same data: a rank with another build of the program, another learning rate or another copy of
/// the training file would not crash, it would silently train something else (or hang, if the
/// sizes of its buffers differ). So before the first step each rank hashes what must agree (the
/// running binary, the options, each data file), the ranks all-gather the hashes, and a
/// difference stops the job with a message naming the rank and the thing that differs:
///
///     the ranks disagree: rank 1 has another 'train data' than rank 0 (here: data/train.bin,
///     1048576 bytes); every rank must run the same binary with the same options and data
///
/// The hash is 64-bit FNV-1a: simple, fast enough (about 1 GB/s) and good at catching accidental
/// differences, not an adversary.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "chapters/11_distributed/communicator.h"

namespace gpt2 {

/// FNV-1a 64-bit over bytes, continuing from `hash` (start with kFnvOffset).
inline constexpr uint64_t kFnvOffset = 14695981039346656037ull;
uint64_t fnv1a(std::string_view bytes, uint64_t hash = kFnvOffset);
/// FNV-1a of a whole file, read in pieces. Throws gpt2::Error naming the file if it cannot be read.
uint64_t hash_file(const std::filesystem::path& path);
/// FNV-1a of the program this process runs (/proc/self/exe).
uint64_t hash_this_program();

/// One thing every rank must agree on.
struct Fingerprint {
  std::string what;    ///< what it is: "binary", "options", "train data"
  uint64_t hash = 0;   ///< its hash on this rank
  std::string detail;  ///< shown when it differs: "data/train.bin, 1048576 bytes"
};

/// The fingerprint of a file: its hash, with its name and size as the detail.
Fingerprint file_fingerprint(std::string what, const std::filesystem::path& path);

/// All-gathers every rank's fingerprints and throws gpt2::Error, on every rank, naming each rank
/// and item that differs from rank 0. A collective: every rank must call it.
void check_ranks_agree(Communicator& comm, const std::vector<Fingerprint>& items);

}  // namespace gpt2
