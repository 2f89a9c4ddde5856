// Tests of exercises 02, against the PyTorch fixture of chapter 02 and known values.
#include <cmath>
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

TEST_CASE("02.1 positional_encoding matches the tutorial formula", "[exercise]") {
  auto f = gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/02_embeddings.safetensors");
  for (std::string name : {"pe_t50_c16", "pe_t7_c9", "pe_t1_c4"}) {
    const auto& shape = f.info(name).shape;
    const int T = static_cast<int>(shape[0]), C = static_cast<int>(shape[1]);
    std::vector<float> pe(static_cast<size_t>(T) * C, NAN);
    exercise::positional_encoding(pe.data(), T, C);
    auto r = gpt2::rel_close(pe, f.get_vector(name), 1e-5, name);
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("02.2 embedding_backward matches PyTorch and adds", "[exercise]") {
  auto f = gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/02_embeddings.safetensors");
  const std::string name = "b3t5";  // B = 3, T = 5, C = 6, repeated tokens
  const auto& shape = f.info(name + ".dout").shape;
  const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]), C = static_cast<int>(shape[2]);
  std::vector<int64_t> ids = f.get_int(name + ".tokens");
  std::vector<int> tokens(ids.begin(), ids.end());
  std::vector<float> dout = f.get_vector(name + ".dout");
  std::vector<float> dwte(f.get_vector(name + ".wte").size(), 0.0f),
      dwpe(f.get_vector(name + ".wpe").size(), 0.0f);
  exercise::embedding_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
  auto r1 = gpt2::rel_close(dwte, f.get_vector(name + ".dwte"), 1e-4, "dwte");
  INFO(r1.message);
  CHECK(r1.ok);
  auto r2 = gpt2::rel_close(dwpe, f.get_vector(name + ".dwpe"), 1e-4, "dwpe");
  INFO(r2.message);
  CHECK(r2.ok);
  // Calling it again must add the same amount again.
  std::vector<float> twice_wte = dwte;
  exercise::embedding_backward(twice_wte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
  // (Not bit-exact: adding a, b, c to s is not the same rounding as adding a + b + c.)
  std::vector<float> expected_twice(dwte.size());
  for (size_t i = 0; i < dwte.size(); ++i) expected_twice[i] = 2 * dwte[i];
  auto r3 = gpt2::rel_close(twice_wte, expected_twice, 1e-6, "dwte after two calls");
  INFO(r3.message);
  CHECK(r3.ok);
}
