/// @file fuzz_util.h
/// @brief What the fuzz targets share: the rule they check, and scratch files.
///
/// Each target feeds its bytes to one reader. A gpt2::Error is the right answer to a bad input
/// (one clear message), so the targets catch it; anything else (a crash, a sanitizer report, an
/// exception of another type, a hang, a broken invariant checked with FUZZ_CHECK) is a bug that
/// libFuzzer reports with the input that caused it.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "common/error.h"

/// Aborts (so libFuzzer saves the input) when an invariant does not hold.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace gpt2_fuzz {

/// A directory of this process's own for the files a reader needs (in memory when /dev/shm is
/// there: the targets write files on every run), removed when the process exits.
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path dir;
    Scratch() {
      const std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                             ? std::filesystem::path("/dev/shm")
                                             : std::filesystem::temp_directory_path();
      dir = base / ("gpt2_fuzz_" + std::to_string(::getpid()));
      std::filesystem::create_directories(dir);
    }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  };
  static const Scratch scratch;
  return scratch.dir;
}

/// Writes bytes to a file (plainly: no fsync, the targets write on every run).
inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The input split at its first NUL byte: (before, after). No NUL: (all, "").
inline std::pair<std::string_view, std::string_view> split_at_nul(std::string_view data) {
  const size_t at = data.find('\0');
  if (at == std::string_view::npos) return {data, {}};
  return {data.substr(0, at), data.substr(at + 1)};
}

}  // namespace gpt2_fuzz
