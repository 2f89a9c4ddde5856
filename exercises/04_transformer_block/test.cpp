// Tests of exercises 04, against the PyTorch fixture of chapter 04
// (tests/reference/04_transformer_block.py).
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/04_transformer_block.safetensors");
}

void check_rel(const std::vector<float>& ours, const std::vector<float>& ref, const std::string& what) {
  auto r = gpt2::rel_close(ours, ref, 1e-4, what);  // the tolerance for gradients
  INFO(r.message);
  CHECK(r.ok);
}

}  // namespace

TEST_CASE("04.1 layernorm_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  for (std::string name : {"layernorm", "layernorm_n1c3"}) {
    const auto& shape = f.info(name + ".inp").shape;
    const int N = static_cast<int>(shape[0]), C = static_cast<int>(shape[1]);
    std::vector<float> dinp(static_cast<size_t>(N) * C, 0.0f), dw(C, 0.0f), db(C, 0.0f);
    auto run = [&]() {
      exercise::layernorm_backward(dinp.data(), dw.data(), db.data(), f.get_vector(name + ".dout").data(),
                                   f.get_vector(name + ".inp").data(), f.get_vector(name + ".weight").data(),
                                   f.get_vector(name + ".mean").data(), f.get_vector(name + ".rstd").data(),
                                   N, C);
    };
    run();
    check_rel(dinp, f.get_vector(name + ".dinp"), name + " dinp");
    check_rel(dw, f.get_vector(name + ".dweight"), name + " dweight");
    check_rel(db, f.get_vector(name + ".dbias"), name + " dbias");
    run();  // a second call adds the same again
    std::vector<float> twice = f.get_vector(name + ".dbias");
    for (float& x : twice) x *= 2;
    check_rel(db, twice, name + " dbias after two calls");
  }
}

TEST_CASE("04.2 gelu_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  std::vector<float> inp = f.get_vector("gelu.inp"), dout = f.get_vector("gelu.dout");
  const int n = static_cast<int>(inp.size());
  std::vector<float> dinp(n, 0.0f);
  exercise::gelu_backward(dinp.data(), inp.data(), dout.data(), n);
  check_rel(dinp, f.get_vector("gelu.dinp"), "dinp");
  std::vector<float> ones(n, 1.0f), expected(n);
  exercise::gelu_backward(ones.data(), inp.data(), dout.data(), n);
  for (int i = 0; i < n; ++i) expected[i] = 1.0f + dinp[i];
  check_rel(ones, expected, "1 + dinp");
}
