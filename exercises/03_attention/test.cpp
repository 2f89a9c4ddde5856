// Tests of exercises 03, against the PyTorch fixture of chapter 03 (tests/reference/03_attention.py).
#include <cmath>
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {
gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/03_attention.safetensors");
}
}  // namespace

TEST_CASE("03.1 softmax_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  const auto& shape = f.info("softmax.out").shape;
  const int rows = static_cast<int>(shape[0]), n = static_cast<int>(shape[1]);
  std::vector<float> dinp(static_cast<size_t>(rows) * n, 0.0f);
  exercise::softmax_backward(dinp.data(), f.get_vector("softmax.dout").data(),
                             f.get_vector("softmax.out").data(), rows, n);
  auto r = gpt2::rel_close(dinp, f.get_vector("softmax.dinp"), 1e-4, "dinp");
  INFO(r.message);
  CHECK(r.ok);
  // It must add: starting from 1 everywhere gives 1 + the gradient.
  std::vector<float> ones(dinp.size(), 1.0f), expected(dinp.size());
  exercise::softmax_backward(ones.data(), f.get_vector("softmax.dout").data(),
                             f.get_vector("softmax.out").data(), rows, n);
  for (size_t i = 0; i < dinp.size(); ++i) expected[i] = 1.0f + dinp[i];
  auto r2 = gpt2::rel_close(ones, expected, 1e-6, "1 + dinp");
  INFO(r2.message);
  CHECK(r2.ok);
}

TEST_CASE("03.2 causal_attention_weights matches PyTorch", "[exercise]") {
  auto f = fixture();
  // Every (batch, head) of these causal cases is one independent head; T = 1, 4 and 9.
  for (std::string name : {"b1h1t1d5_causal", "b3h1t4d3_causal", "b1h2t9d16_causal"}) {
    const auto& s = f.info(name + ".q").shape;  // (B, NH, T, HS)
    const int heads = static_cast<int>(s[0] * s[1]), T = static_cast<int>(s[2]), HS = static_cast<int>(s[3]);
    std::vector<float> q = f.get_vector(name + ".q"), k = f.get_vector(name + ".k");
    std::vector<float> att(static_cast<size_t>(heads) * T * T, NAN);
    for (int h = 0; h < heads; ++h) {
      exercise::causal_attention_weights(att.data() + static_cast<size_t>(h) * T * T,
                                         q.data() + static_cast<size_t>(h) * T * HS,
                                         k.data() + static_cast<size_t>(h) * T * HS, T, HS);
    }
    auto r = gpt2::rel_close(att, f.get_vector(name + ".att"), 1e-5, name + " att");
    INFO(r.message);
    CHECK(r.ok);
  }
}
