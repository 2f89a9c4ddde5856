// Tests of the whole GPT-2 block: against PyTorch (GPT2Block's computation written out in
// tests/reference/04_transformer_block.py, with Hugging Face's parameter names) and against finite
// differences for the input and every parameter.
#include <string>
#include <vector>

#include "chapters/04_transformer_block/block.h"
#include "helpers.h"

using namespace ch04_test;

namespace {

// Reads the 12 parameters (or their gradients, with prefix "name.grad.") into one flat array in
// block_params_view's layout.
std::vector<float> load_params(const gpt2::SafetensorsFile& f, const std::string& prefix, int C) {
  std::vector<float> flat;
  for (const char* key : gpt2::kBlockParamNames) {
    std::vector<float> t = f.get_vector(prefix + key);
    flat.insert(flat.end(), t.begin(), t.end());
  }
  REQUIRE(flat.size() == gpt2::block_num_params(C));
  return flat;
}

}  // namespace

TEST_CASE("block parameter layout", "[block]") {
  CHECK(gpt2::block_num_params(768) == 7087872);  // GPT-2 small: 12 * 768^2 + 13 * 768
  std::vector<float> flat(gpt2::block_num_params(4));
  auto p = gpt2::block_params_view(flat.data(), 4);
  CHECK(p.ln_1_w == flat.data());
  CHECK(p.c_attn_w == flat.data() + 8);
  CHECK(p.mlp_c_proj_b + 4 == flat.data() + flat.size());  // the last one ends the array
}

TEST_CASE("block forward and backward match PyTorch", "[block][parity]") {
  auto f = fixture();
  for (std::string name : {"block_b2t4c12h2", "block_b1t1c8h1", "block_b3t5c20h4"}) {
    SECTION(name) {
      const int B = dim(f, name + ".x", 0), T = dim(f, name + ".x", 1), C = dim(f, name + ".x", 2);
      const int NH = name == "block_b2t4c12h2" ? 2 : name == "block_b1t1c8h1" ? 1 : 4;
      std::vector<float> params = load_params(f, name + ".", C);
      std::vector<float> x = f.get_vector(name + ".x"), dout = f.get_vector(name + ".dout");
      const auto w = gpt2::block_params_view<const float>(params.data(), C);
      gpt2::BlockActivations<float> acts(B, T, C, NH);
      gpt2::block_forward(acts, x.data(), w, B, T, C, NH);
      check_rel(acts.out, f.get_vector(name + ".out"), kOutTol, "out");

      std::vector<float> grads(params.size(), 0.0f), dx(x.size(), 0.0f);
      gpt2::block_backward(dx.data(), gpt2::block_params_view(grads.data(), C), dout.data(), x.data(), w,
                           acts, B, T, C, NH);
      check_rel(dx, f.get_vector(name + ".dx"), kGradTol, "dx");
      // Each parameter's gradient on its own, so a failure names it.
      std::vector<float> ref = load_params(f, name + ".grad.", C);
      size_t offset = 0;
      for (const char* key : gpt2::kBlockParamNames) {
        const size_t count = f.get_vector(name + ".grad." + key).size();
        std::vector<float> ours(grads.begin() + offset, grads.begin() + offset + count);
        std::vector<float> theirs(ref.begin() + offset, ref.begin() + offset + count);
        check_rel(ours, theirs, kGradTol, std::string("d ") + key);
        offset += count;
      }
    }
  }
}

TEST_CASE("block backward matches finite differences (double)", "[block][gradcheck]") {
  const int B = 2, T = 3, C = 8, NH = 2;
  gpt2::Rng rng(99);
  // Weights of GPT-2-like scale (LayerNorm gains near 1), so no unit saturates.
  std::vector<double> params = random_vector(gpt2::block_num_params(C), rng, 0.3);
  {
    auto p = gpt2::block_params_view(params.data(), C);
    for (int c = 0; c < C; ++c) p.ln_1_w[c] += 1.0, p.ln_2_w[c] += 1.0;
  }
  std::vector<double> x = random_vector(static_cast<size_t>(B) * T * C, rng);
  std::vector<double> w = random_vector(x.size(), rng);
  auto loss = [&]() {
    gpt2::BlockActivations<double> a(B, T, C, NH);
    gpt2::block_forward(a, x.data(), gpt2::block_params_view<const double>(params.data(), C), B, T, C, NH);
    return dot(a.out, w);
  };
  gpt2::BlockActivations<double> acts(B, T, C, NH);
  const auto weights = gpt2::block_params_view<const double>(params.data(), C);
  gpt2::block_forward(acts, x.data(), weights, B, T, C, NH);
  std::vector<double> grads(params.size(), 0.0), dx(x.size(), 0.0);
  gpt2::block_backward(dx.data(), gpt2::block_params_view(grads.data(), C), w.data(), x.data(), weights, acts,
                       B, T, C, NH);
  const double err_x = gpt2::max_scaled_error<double>(dx, gpt2::numeric_gradient<double>(loss, x, kEps));
  const double err_p =
      gpt2::max_scaled_error<double>(grads, gpt2::numeric_gradient<double>(loss, params, kEps));
  CAPTURE(err_x, err_p);
  CHECK(err_x < kFdTol);
  CHECK(err_p < kFdTol);
}
