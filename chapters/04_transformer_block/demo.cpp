// ch04_demo: one GPT-2 block, forward and backward, with a spot check of the gradients.
//
//   ch04_demo
//
// The weights are random (GPT-2's initialisation: N(0, 0.02), LayerNorm gains 1, biases 0), so
// the numbers mean nothing yet; what the demo shows is the shapes flowing through the block, that
// the residual stream carries the input through almost unchanged at initialisation, and that the
// hand-written backward agrees with finite differences.
#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

#include "chapters/04_transformer_block/block.h"
#include "common/rng.h"

namespace {

// GPT-2's initialisation for one block, in double (the gradient check below wants double).
std::vector<double> init_block(int C, gpt2::Rng& rng) {
  std::vector<double> flat(gpt2::block_num_params(C), 0.0);
  auto p = gpt2::block_params_view(flat.data(), C);
  auto normal = [&](double* w, size_t n) {
    for (size_t i = 0; i < n; ++i) w[i] = rng.normal(0.0f, 0.02f);
  };
  const size_t c = static_cast<size_t>(C);
  for (size_t i = 0; i < c; ++i) p.ln_1_w[i] = p.ln_2_w[i] = 1.0;  // LayerNorm starts as the identity
  normal(p.c_attn_w, c * 3 * c);
  normal(p.attn_c_proj_w, c * c);
  normal(p.c_fc_w, c * 4 * c);
  normal(p.mlp_c_proj_w, 4 * c * c);
  return flat;
}

double rms(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s / v.size());
}

}  // namespace

int main() {
  try {
    const int B = 2, T = 8, C = 32, NH = 4;
    gpt2::Rng rng(1337);
    std::vector<double> params = init_block(C, rng);
    std::vector<double> x(static_cast<size_t>(B) * T * C);
    for (double& v : x) v = rng.normal();
    const auto w = gpt2::block_params_view<const double>(params.data(), C);

    gpt2::BlockActivations<double> acts(B, T, C, NH);
    gpt2::block_forward(acts, x.data(), w, B, T, C, NH);
    std::printf("GPT-2 block: B=%d T=%d C=%d NH=%d HS=%d, %zu parameters\n", B, T, C, NH, C / NH,
                gpt2::block_num_params(C));
    std::printf("  rms of the input x             %.4f\n", rms(x));
    std::printf("  rms of the attention branch    %.4f  (attn.c_proj output)\n", rms(acts.attn_proj));
    std::printf("  rms of the MLP branch          %.4f  (mlp.c_proj output)\n", rms(acts.mlp_proj));
    std::printf("  rms of the output              %.4f  (x + both branches)\n", rms(acts.out));
    std::printf("  attention weights of head 0, last position: ");
    for (int s = 0; s < T; ++s) std::printf("%.3f ", acts.att[static_cast<size_t>(T - 1) * T + s]);
    std::printf("\n  (small random q and k: nearly uniform over the %d visible positions)\n\n", T);

    // Backward for L = sum(out * g), g random, and a spot check of a few gradients.
    std::vector<double> g(x.size());
    for (double& v : g) v = rng.normal();
    std::vector<double> grads(params.size(), 0.0), dx(x.size(), 0.0);
    gpt2::block_backward(dx.data(), gpt2::block_params_view(grads.data(), C), g.data(), x.data(), w, acts, B,
                         T, C, NH);
    auto loss = [&]() {
      gpt2::BlockActivations<double> a(B, T, C, NH);
      gpt2::block_forward(a, x.data(), w, B, T, C, NH);
      double s = 0;
      for (size_t i = 0; i < g.size(); ++i) s += a.out[i] * g[i];
      return s;
    };
    std::printf("gradient spot check, dL/dparam: backward vs central difference (eps 1e-6)\n");
    const double eps = 1e-6;
    for (size_t i : {size_t{0}, size_t{100}, params.size() / 2, params.size() - 1}) {
      const double saved = params[i];
      params[i] = saved + eps;
      const double plus = loss();
      params[i] = saved - eps;
      const double minus = loss();
      params[i] = saved;
      std::printf("  param[%6zu]  backward %+.9f   numeric %+.9f\n", i, grads[i], (plus - minus) / (2 * eps));
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ch04_demo: %s\n", e.what());
    return 1;
  }
}
