// Tests of exercises 04: against the PyTorch fixture of chapter 04
// (tests/reference/04_transformer_block.py), and for the post-LN block against central finite
// differences in double precision.
#include <cmath>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "chapters/03_attention/attention.h"
#include "chapters/04_transformer_block/multihead_attention.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"
#include "tests/exercise_testing.h"

using exercise_testing::added;
using exercise_testing::check_rel;
using exercise_testing::prefilled;

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/04_transformer_block.safetensors");
}

// max |ours - numeric| / max(1, |numeric|), reported with the worst element.
void check_gradient(const std::vector<double>& ours, const std::vector<double>& numeric,
                    const std::string& what) {
  REQUIRE(ours.size() == numeric.size());
  size_t worst = 0;
  double worst_err = -1;
  for (size_t i = 0; i < ours.size(); ++i) {
    const double err = std::fabs(ours[i] - numeric[i]) / std::fmax(1.0, std::fabs(numeric[i]));
    if (!(err <= worst_err)) worst_err = err, worst = i;
  }
  INFO(what << ": error " << worst_err << " against finite differences, worst element [" << worst
            << "] = " << ours[worst] << " expected " << numeric[worst]);
  CHECK(worst_err < 1e-7);
}

}  // namespace

TEST_CASE("04.1 layernorm_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  // 6 rows of 10 channels with a large mean and spread, and 1 row of 3.
  for (std::string name : {"layernorm", "layernorm_n1c3"}) {
    const auto& shape = f.info(name + ".inp").shape;
    const int N = static_cast<int>(shape[0]), C = static_cast<int>(shape[1]);
    const std::vector<float> ref_dinp = f.get_vector(name + ".dinp"),
                             ref_dw = f.get_vector(name + ".dweight"), ref_db = f.get_vector(name + ".dbias");
    const std::vector<float> dinp0 = prefilled(ref_dinp), dw0 = prefilled(ref_dw), db0 = prefilled(ref_db);
    std::vector<float> dinp = dinp0, dw = dw0, db = db0;  // the answer must be added to these
    exercise::layernorm_backward(dinp.data(), dw.data(), db.data(), f.get_vector(name + ".dout").data(),
                                 f.get_vector(name + ".inp").data(), f.get_vector(name + ".weight").data(),
                                 f.get_vector(name + ".mean").data(), f.get_vector(name + ".rstd").data(), N,
                                 C);
    check_rel(added(dinp, dinp0), ref_dinp, 1e-4, name + " dinp (what was added to the buffer)");
    check_rel(added(dw, dw0), ref_dw, 1e-4, name + " dweight (what was added to the buffer)");
    check_rel(added(db, db0), ref_db, 1e-4, name + " dbias (what was added to the buffer)");
  }
}

TEST_CASE("04.2 gelu_backward matches PyTorch and adds", "[exercise]") {
  auto f = fixture();
  // 61 inputs over [-8, 8] and +-30, where 1/cosh^2 would overflow.
  const std::vector<float> inp = f.get_vector("gelu.inp"), dout = f.get_vector("gelu.dout"),
                           expected = f.get_vector("gelu.dinp");
  const std::vector<float> before = prefilled(expected);
  std::vector<float> dinp = before;
  exercise::gelu_backward(dinp.data(), inp.data(), dout.data(), static_cast<int>(inp.size()));
  check_rel(added(dinp, before), expected, 1e-4, "dinp (what was added to the buffer)");
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
    check_rel(out, f.get_vector(name + ".out"), 1e-5, name + " out");
  }
}

TEST_CASE("04.4 post_ln_block_backward matches finite differences and adds", "[exercise]") {
  for (auto [B, T, C, NH] : {std::tuple{2, 3, 8, 2}, std::tuple{1, 1, 4, 1}}) {
    gpt2::Rng rng(static_cast<uint64_t>(100 + C));
    std::vector<double> params(gpt2::block_num_params(C)), x(static_cast<size_t>(B) * T * C), r(x.size());
    for (double& p : params) p = 0.3 * rng.normal();
    for (double& v : x) v = rng.normal();
    for (double& v : r) v = rng.normal();
    // L = sum(out * r), so dL/dout = r.
    const auto loss = [&]() {
      const auto a = exercise::post_ln_block_forward(
          x.data(), gpt2::block_params_view<const double>(params.data(), C), B, T, C, NH);
      return std::inner_product(a.out.begin(), a.out.end(), r.begin(), 0.0);
    };
    const std::vector<double> num_x = gpt2::numeric_gradient<double>(loss, x, 1e-6);
    const std::vector<double> num_p = gpt2::numeric_gradient<double>(loss, params, 1e-6);

    const auto w = gpt2::block_params_view<const double>(params.data(), C);
    const auto acts = exercise::post_ln_block_forward(x.data(), w, B, T, C, NH);
    std::vector<double> dx(x.size(), 0.25), grads(params.size(), -0.5);  // the answer is added to these
    exercise::post_ln_block_backward(dx.data(), gpt2::block_params_view(grads.data(), C), r.data(), x.data(),
                                     w, acts, B, T, C, NH);
    for (double& v : dx) v -= 0.25;
    for (double& v : grads) v += 0.5;
    INFO("B " << B << ", T " << T << ", C " << C << ", NH " << NH);
    check_gradient(dx, num_x, "dinp (what was added to the buffer)");
    // Each parameter tensor on its own, so that a wrong one is named (sizes in kBlockParamNames' order).
    const size_t c = static_cast<size_t>(C);
    const size_t sizes[12] = {c, c, 3 * c * c, 3 * c, c * c, c, c, c, 4 * c * c, 4 * c, 4 * c * c, c};
    size_t offset = 0;
    for (size_t k = 0; k < 12; ++k) {
      check_gradient(std::vector<double>(grads.begin() + offset, grads.begin() + offset + sizes[k]),
                     std::vector<double>(num_p.begin() + offset, num_p.begin() + offset + sizes[k]),
                     std::string("d ") + gpt2::kBlockParamNames[k] + " (what was added to the buffer)");
      offset += sizes[k];
    }
    CHECK(offset == params.size());
  }
}
