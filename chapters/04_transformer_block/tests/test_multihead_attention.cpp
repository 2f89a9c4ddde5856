// Tests of chapter 04's multi-head attention (split heads, chapter 03's attention, merge) against
// PyTorch (GPT2Attention's reshapes, tests/reference/04_transformer_block.py) and finite differences.
#include <string>
#include <vector>

#include "chapters/04_transformer_block/multihead_attention.h"
#include "helpers.h"

using namespace ch04_test;

TEST_CASE("multi-head attention matches PyTorch", "[mha][parity]") {
  auto f = fixture();
  for (std::string name : {"mha_b2t5c12h3", "mha_b1t1c6h1", "mha_b3t4c10h2"}) {
    SECTION(name) {
      const int B = dim(f, name + ".qkv", 0), T = dim(f, name + ".qkv", 1), C = dim(f, name + ".out", 2);
      const int NH = dim(f, name + ".att", 1);
      std::vector<float> qkv = f.get_vector(name + ".qkv"), dout = f.get_vector(name + ".dout");
      std::vector<float> out(static_cast<size_t>(B) * T * C), qkvh(qkv.size()),
          att(static_cast<size_t>(B) * NH * T * T);
      gpt2::multihead_attention_forward(out.data(), qkvh.data(), att.data(), qkv.data(), B, T, C, NH);
      check_rel(out, f.get_vector(name + ".out"), kOutTol, "out");
      check_rel(att, f.get_vector(name + ".att"), kOutTol, "att");
      std::vector<float> dqkv(qkv.size(), 0.0f);
      gpt2::multihead_attention_backward(dqkv.data(), dout.data(), qkvh.data(), att.data(), B, T, C, NH);
      check_rel(dqkv, f.get_vector(name + ".dqkv"), kGradTol, "dqkv");
    }
  }
}

TEST_CASE("split_heads puts channel h*HS+i of part w at (w, b, h, t, i)", "[mha]") {
  const int B = 2, T = 3, C = 4, NH = 2, HS = 2, parts = 3;
  std::vector<float> x(B * T * parts * C);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  std::vector<float> heads(x.size());
  gpt2::split_heads(heads.data(), x.data(), parts, B, T, C, NH);
  for (int w = 0; w < parts; ++w)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < NH; ++h)
        for (int t = 0; t < T; ++t)
          for (int i = 0; i < HS; ++i)
            CHECK(heads[(((w * B + b) * NH + h) * T + t) * HS + i] ==
                  x[(b * T + t) * parts * C + w * C + h * HS + i]);
  // merge_heads_add is its inverse (adding into zeros).
  std::vector<float> back(x.size(), 0.0f);
  gpt2::merge_heads_add(back.data(), heads.data(), parts, B, T, C, NH);
  CHECK(back == x);
}

TEST_CASE("multi-head attention backward matches finite differences (double)", "[mha][gradcheck]") {
  struct Case {
    int B, T, C, NH;
  };
  for (Case c : {Case{2, 3, 6, 2}, Case{1, 1, 4, 1}, Case{1, 4, 10, 2}}) {
    CAPTURE(c.B, c.T, c.C, c.NH);
    const size_t n = static_cast<size_t>(c.B) * c.T * c.C;
    gpt2::Rng rng(21);
    std::vector<double> qkv = random_vector(3 * n, rng), w = random_vector(n, rng);
    std::vector<double> qkvh(3 * n), att(static_cast<size_t>(c.B) * c.NH * c.T * c.T), out(n);
    auto loss = [&]() {
      std::vector<double> o(n), h(3 * n), a(att.size());
      gpt2::multihead_attention_forward(o.data(), h.data(), a.data(), qkv.data(), c.B, c.T, c.C, c.NH);
      return dot(o, w);
    };
    gpt2::multihead_attention_forward(out.data(), qkvh.data(), att.data(), qkv.data(), c.B, c.T, c.C, c.NH);
    std::vector<double> dqkv(3 * n, 0.0);
    gpt2::multihead_attention_backward(dqkv.data(), w.data(), qkvh.data(), att.data(), c.B, c.T, c.C, c.NH);
    CHECK(gpt2::max_scaled_error<double>(dqkv, gpt2::numeric_gradient<double>(loss, qkv, kEps)) < kFdTol);
  }
}
