#include "fingerprint.h"

#include <algorithm>
#include <cstdio>

#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

uint64_t fnv1a(std::string_view bytes, uint64_t hash) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;  // the FNV prime 2^40 + 2^8 + 0xb3
  }
  return hash;
}

uint64_t hash_file(const std::filesystem::path& path) {
  BinaryReader reader(path);
  std::string block(size_t{1} << 20, '\0');
  uint64_t hash = kFnvOffset;
  while (reader.position() < reader.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(block.size(), reader.size() - reader.position()));
    reader.read(block.data(), n);
    hash = fnv1a(std::string_view(block.data(), n), hash);
  }
  return hash;
}

uint64_t hash_this_program() {
  return hash_file("/proc/self/exe");
}

Fingerprint file_fingerprint(std::string what, const std::filesystem::path& path) {
  BinaryReader reader(path);  // a clear error if the file is missing
  return {std::move(what), hash_file(path), cat(path.string(), ", ", reader.size(), " bytes")};
}

void check_ranks_agree(Communicator& comm, const std::vector<Fingerprint>& items) {
  // First the number of items (another binary may check other things), then the hashes.
  const uint64_t count = items.size();
  const std::vector<uint64_t> counts = comm.all_gather_values<uint64_t>(std::span<const uint64_t>(&count, 1));
  for (int r = 1; r < comm.size(); ++r) {
    GPT2_CHECK(counts[r] == counts[0], "the ranks disagree: rank ", r, " checks ", counts[r],
               " things at start and rank 0 checks ", counts[0],
               "; every rank must run the same binary with the same options and data");
  }
  std::vector<uint64_t> mine;
  for (const Fingerprint& f : items) mine.push_back(f.hash);
  const std::vector<uint64_t> all = comm.all_gather_values<uint64_t>(mine);

  std::string differences;
  for (int r = 1; r < comm.size(); ++r) {
    for (size_t i = 0; i < items.size(); ++i) {
      if (all[r * items.size() + i] == all[i]) continue;
      if (!differences.empty()) differences += "; ";
      differences += cat("rank ", r, " has another '", items[i].what, "' than rank 0");
      if (comm.rank() == r || comm.rank() == 0) differences += cat(" (here: ", items[i].detail, ")");
    }
  }
  GPT2_CHECK(differences.empty(), "the ranks disagree: ", differences,
             "; every rank must run the same binary with the same options and data");
}

}  // namespace gpt2
