// Tests of exercises 04, against the PyTorch fixture of chapter 04
// (tests/reference/04_transformer_block.py).
#include <string>
#include <vector>

#include "chapters/03_attention/attention.h"
#include "chapters/04_transformer_block/multihead_attention.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/04_transformer_block.safetensors");
}

void check_rel(const std::vector<float>& ours, const std::vector<float>& ref, const std::string& what) {
  auto r = gpt2::rel_close(ours, ref, 1e-4, what);  // the course's tolerance for gradients
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

TEST_CASE("04.3 split_qkv_heads feeds attention that matches PyTorch", "[exercise]") {
  auto f = fixture();
  // Split with your function, run the chapter's attention on the heads and merge them back with the
  // chapter's merge: the result must be PyTorch's multi-head attention output (T = 1, HS = 4 and 5).
  for (std::string name : {"mha_b2t5c12h3", "mha_b1t1c6h1", "mha_b3t4c10h2"}) {
    const auto& s = f.info(name + ".att").shape;  // (B, NH, T, T)
    const int B = static_cast<int>(s[0]), NH = static_cast<int>(s[1]), T = static_cast<int>(s[2]);
    const int C = static_cast<int>(f.info(name + ".out").shape[2]), HS = C / NH;
    const size_t n = static_cast<size_t>(B) * T * C;
    std::vector<float> qkv = f.get_vector(name + ".qkv"), qkvh(3 * n, NAN);
    exercise::split_qkv_heads(qkvh.data(), qkv.data(), B, T, C, NH);
    std::vector<float> y(n), att(static_cast<size_t>(B) * NH * T * T), out(n, 0.0f);
    gpt2::attention_forward(y.data(), att.data(), qkvh.data(), qkvh.data() + n, qkvh.data() + 2 * n, B, NH, T,
                            HS, true);
    gpt2::merge_heads_add(out.data(), y.data(), 1, B, T, C, NH);
    auto r = gpt2::rel_close(out, f.get_vector(name + ".out"), 1e-5, name + " out");
    INFO(r.message);
    CHECK(r.ok);
  }
}
