// What chapter 10's tests share: the fixture directory, a relative comparison, ids from a fixture.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace ch10_test {

inline std::filesystem::path fixtures() {
  return std::filesystem::path(gpt2::fixture_dir());
}

/// CHECKs that `ours` equals `ref` within `tol` (max |diff| / max |ref|), naming `what`.
inline void check_rel(std::span<const float> ours, std::span<const float> ref, double tol,
                      const std::string& what) {
  auto r = gpt2::rel_close(ours, ref, tol, what);
  INFO(r.message);
  CHECK(r.ok);
}

/// An integer tensor of a fixture as ints.
inline std::vector<int> ints(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int64_t> t = f.get_int(name);
  return std::vector<int>(t.begin(), t.end());
}

}  // namespace ch10_test
