// The teaching kernels (matmul_steps.h, attention_steps.h) against the CPU code of chapters 03
// and 04, on shapes that are and are not multiples of the tile sizes.
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "chapters/03_attention/attention.h"
#include "chapters/04_transformer_block/linear.h"
#include "chapters/09_cuda/attention_steps.h"
#include "chapters/09_cuda/matmul_steps.h"
#include "chapters/09_cuda/tests/cuda_test_helpers.h"
#include "tests/catch.h"

using namespace gpt2;
using namespace gpt2::cuda::testing;
using gpt2::cuda::DeviceArray;

TEST_CASE("09 matmul steps (naive, tiled) match chapter 04's linear layer", "[cuda]") {
  for (auto [N, C, OC] :
       {std::array{1, 1, 1}, std::array{5, 7, 3}, std::array{64, 96, 128}, std::array{70, 33, 100}}) {
    const std::string at =
        "(" + std::to_string(N) + ", " + std::to_string(C) + ", " + std::to_string(OC) + ")";
    const auto inp = random_floats(static_cast<size_t>(N) * C, 1),
               w = random_floats(static_cast<size_t>(C) * OC, 2),
               b = random_floats(static_cast<size_t>(OC), 3);
    std::vector<float> ref(static_cast<size_t>(N) * OC);
    linear_forward(ref.data(), inp.data(), w.data(), b.data(), N, C, OC);
    DeviceArray<float> d_inp{std::span<const float>(inp)}, d_w{std::span<const float>(w)},
        d_b{std::span<const float>(b)};
    auto out = poisoned(ref.size());
    cuda::matmul_naive(out.get(), d_inp.get(), d_w.get(), d_b.get(), N, C, OC);
    check_close(out.download(), ref, sum_tolerance(C + 1), "matmul_naive " + at);
    out.poison();
    cuda::matmul_tiled(out.get(), d_inp.get(), d_w.get(), d_b.get(), N, C, OC);
    check_close(out.download(), ref, sum_tolerance(C + 1), "matmul_tiled " + at);
  }
}

TEST_CASE("09 attention steps (naive, flash) match chapter 03's causal attention", "[cuda]") {
  for (auto [B, NH, T, HS] : {std::array{1, 1, 1, 8}, std::array{2, 3, 65, 16}, std::array{1, 2, 130, 64}}) {
    const std::string at = "(" + std::to_string(B) + ", " + std::to_string(NH) + ", " + std::to_string(T) +
                           ", " + std::to_string(HS) + ")";
    const size_t n = static_cast<size_t>(B) * NH * T * HS, att_n = static_cast<size_t>(B) * NH * T * T;
    const auto q = random_floats(n, 10), k = random_floats(n, 11), v = random_floats(n, 12);
    std::vector<float> ref(n), att(att_n);
    attention_forward(ref.data(), att.data(), q.data(), k.data(), v.data(), B, NH, T, HS, /*causal=*/true);
    DeviceArray<float> d_q{std::span<const float>(q)}, d_k{std::span<const float>(k)},
        d_v{std::span<const float>(v)};
    const double tol = sum_tolerance(HS + 2 * T);

    auto out = poisoned(n), d_att = poisoned(att_n);
    cuda::attention_naive(out.get(), d_att.get(), d_q.get(), d_k.get(), d_v.get(), B, NH, T, HS);
    check_close(out.download(), ref, tol, "attention_naive out " + at);
    check_close(d_att.download(), att, tol, "attention_naive att " + at);

    // lse of each row, in double from the inputs: log sum_{s <= t} exp(q_t . k_s / sqrt(HS)).
    std::vector<float> lse_ref(static_cast<size_t>(B) * NH * T);
    for (int bh = 0; bh < B * NH; ++bh)
      for (int t = 0; t < T; ++t) {
        std::vector<double> s(static_cast<size_t>(t) + 1);
        double m = -INFINITY;
        for (int j = 0; j <= t; ++j) {
          double dot = 0;
          for (int i = 0; i < HS; ++i)
            dot += static_cast<double>(q[(static_cast<size_t>(bh) * T + t) * HS + i]) *
                   k[(static_cast<size_t>(bh) * T + j) * HS + i];
          s[static_cast<size_t>(j)] = dot / std::sqrt(static_cast<double>(HS));
          m = std::max(m, s[static_cast<size_t>(j)]);
        }
        double sum = 0;
        for (double x : s) sum += std::exp(x - m);
        lse_ref[static_cast<size_t>(bh) * T + t] = static_cast<float>(m + std::log(sum));
      }
    out.poison();
    auto lse = poisoned(lse_ref.size());
    cuda::attention_flash(out.get(), lse.get(), d_q.get(), d_k.get(), d_v.get(), B, NH, T, HS);
    check_close(out.download(), ref, tol, "attention_flash out " + at);
    check_close(lse.download(), lse_ref, tol, "attention_flash lse " + at);
  }
}
