// Tests of exercises 03, against the PyTorch fixture of chapter 03 (tests/reference/03_attention.py:
// torch.softmax and nanoGPT's explicit attention, differentiated by autograd).
#include <cmath>
#include <string>
#include <vector>

#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"
#include "tests/exercise_testing.h"

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/03_attention.safetensors");
}

}  // namespace

using exercise_testing::added;
using exercise_testing::check_rel;
using exercise_testing::prefilled;

TEST_CASE("03.1 softmax_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  const auto& shape = f.info("softmax.out").shape;  // rows around +1000, -1000 and a constant row
  const int rows = static_cast<int>(shape[0]), n = static_cast<int>(shape[1]);
  const std::vector<float> expected = f.get_vector("softmax.dinp"), before = prefilled(expected);
  std::vector<float> dinp = before;  // the answer must be added to what the buffer holds
  exercise::softmax_backward(dinp.data(), f.get_vector("softmax.dout").data(),
                             f.get_vector("softmax.out").data(), rows, n);
  check_rel(added(dinp, before), expected, 1e-4, "dinp (what was added to the buffer)");
}

TEST_CASE("03.2 causal_attention_weights matches PyTorch", "[exercise]") {
  auto f = fixture();
  // Every (batch, head) of these causal cases is one independent head; T = 1, 4, 5 and 9.
  for (std::string name : {"b1h1t1d5_causal", "b3h1t4d3_causal", "b2h3t5d7_causal", "b1h2t9d16_causal"}) {
    const auto& s = f.info(name + ".q").shape;  // (B, NH, T, HS)
    const int heads = static_cast<int>(s[0] * s[1]), T = static_cast<int>(s[2]), HS = static_cast<int>(s[3]);
    std::vector<float> q = f.get_vector(name + ".q"), k = f.get_vector(name + ".k");
    std::vector<float> att(static_cast<size_t>(heads) * T * T, NAN);
    for (int h = 0; h < heads; ++h) {
      exercise::causal_attention_weights(att.data() + static_cast<size_t>(h) * T * T,
                                         q.data() + static_cast<size_t>(h) * T * HS,
                                         k.data() + static_cast<size_t>(h) * T * HS, T, HS);
    }
    check_rel(att, f.get_vector(name + ".att"), 1e-5, name + " att");
  }
  // Scores of 1000 and more must not overflow.
  const std::vector<float> q = {40, 0, 40, 0}, k = {30, 0, 31, 0};  // T = 2, HS = 2: scores ~850, ~877
  std::vector<float> att(4, NAN);
  exercise::causal_attention_weights(att.data(), q.data(), k.data(), 2, 2);
  const double s0 = 40.0 * 30 / std::sqrt(2.0), s1 = 40.0 * 31 / std::sqrt(2.0);
  const double p1 = 1 / (1 + std::exp(s0 - s1));
  check_rel(att, {1.0f, 0.0f, static_cast<float>(1 - p1), static_cast<float>(p1)}, 1e-6, "large scores");
}

TEST_CASE("03.3 attention_head_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  for (std::string name : {"b1h1t1d5_causal", "b3h1t4d3_causal", "b2h3t5d7_causal", "b1h2t9d16_causal"}) {
    const auto& s = f.info(name + ".q").shape;  // (B, NH, T, HS)
    const int heads = static_cast<int>(s[0] * s[1]), T = static_cast<int>(s[2]), HS = static_cast<int>(s[3]);
    const size_t n = static_cast<size_t>(heads) * T * HS;
    const std::vector<float> q = f.get_vector(name + ".q"), k = f.get_vector(name + ".k"),
                             v = f.get_vector(name + ".v"), att = f.get_vector(name + ".att"),
                             dout = f.get_vector(name + ".dout");
    const std::vector<float> ref_dq = f.get_vector(name + ".dq"), ref_dk = f.get_vector(name + ".dk"),
                             ref_dv = f.get_vector(name + ".dv");
    const std::vector<float> dq0 = prefilled(ref_dq), dk0 = prefilled(ref_dk), dv0 = prefilled(ref_dv);
    std::vector<float> dq = dq0, dk = dk0, dv = dv0;  // the answer must be added to these
    REQUIRE(dq.size() == n);
    for (int h = 0; h < heads; ++h) {
      const size_t o = static_cast<size_t>(h) * T * HS;
      exercise::attention_head_backward(dq.data() + o, dk.data() + o, dv.data() + o, dout.data() + o,
                                        q.data() + o, k.data() + o, v.data() + o,
                                        att.data() + static_cast<size_t>(h) * T * T, T, HS);
    }
    check_rel(added(dv, dv0), ref_dv, 1e-4, name + " dv (what was added to the buffer)");
    check_rel(added(dq, dq0), ref_dq, 1e-4, name + " dq (what was added to the buffer)");
    check_rel(added(dk, dk0), ref_dk, 1e-4, name + " dk (what was added to the buffer)");
  }
}
