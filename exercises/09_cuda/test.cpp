// Exercises 09: each kernel against the CPU code of chapters 03 and 04 (tested there against
// PyTorch), with chapter 09's tolerance rule (sum_tolerance: a sum of K floats added in another
// order). Outputs start poisoned (NaN), gradients start at random values (so += is checked).
// Without a usable GPU every task reports itself skipped (GPT2_EXERCISE_SKIP), which CTest shows
// as Skipped and scripts/check_exercises.sh as "skipped".
#include <cmath>
#include <cstdio>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "chapters/03_attention/softmax.h"
#include "chapters/04_transformer_block/gelu.h"
#include "chapters/09_cuda/device.h"
#include "chapters/09_cuda/tests/cuda_test_helpers.h"
#include "exercise.h"
#include "tests/catch.h"
#include "tests/exercise_report.h"

using gpt2::cuda::DeviceArray;
using namespace gpt2::cuda::testing;

namespace {

// Why this machine cannot run the kernels ("" when it can).
std::string no_gpu_reason() {
  static const gpt2::cuda::DeviceStatus status = gpt2::cuda::cuda_device_status();
  return status.usable ? "" : "exercise 09 needs an NVIDIA GPU: " + gpt2::cuda::describe(status);
}

DeviceArray<float> on_device(const std::vector<float>& host) {
  return DeviceArray<float>{std::span<const float>(host)};
}

}  // namespace

TEST_CASE("09.1 gelu_backward matches chapter 04 and adds", "[exercise]") {
  if (const std::string why = no_gpu_reason(); !why.empty()) GPT2_EXERCISE_SKIP(why);
  for (int n : {1, 1000, 1 << 21}) {  // 2^21 elements: more than one element per thread
    const auto inp = random_floats(static_cast<size_t>(n), 1, 0.0f, 3.0f), dout = random_floats(n, 2),
               dinp0 = random_floats(n, 3);
    std::vector<float> expected = dinp0;
    gpt2::gelu_backward(expected.data(), inp.data(), dout.data(), n);
    auto d_inp = on_device(inp), d_dout = on_device(dout), d_dinp = on_device(dinp0);
    exercise::gelu_backward(d_dinp.get(), d_inp.get(), d_dout.get(), n);
    check_close(d_dinp.download(), expected, sum_tolerance(4), "dinp, n = " + std::to_string(n));
  }
}

TEST_CASE("09.2 softmax_rows matches chapter 03's softmax", "[exercise]") {
  if (const std::string why = no_gpu_reason(); !why.empty()) GPT2_EXERCISE_SKIP(why);
  // Rows shorter and longer than a warp, a row count that does not fill the last block, and
  // logits near 1000 (exp overflows without the maximum) and near -1000 (it underflows).
  for (auto [rows, n, mean] : {std::tuple{1, 1, 0.0f}, std::tuple{3, 31, 0.0f}, std::tuple{37, 100, 1000.0f},
                               std::tuple{5, 64, -1000.0f}, std::tuple{300, 1027, -5.0f}}) {
    const auto inp = random_floats(static_cast<size_t>(rows) * n, 4, mean, 3.0f);
    std::vector<float> expected(inp.size());
    gpt2::softmax_forward(expected.data(), inp.data(), rows, n);
    auto d_inp = on_device(inp);
    auto d_out = poisoned(inp.size());
    exercise::softmax_rows(d_out.get(), d_inp.get(), rows, n);
    check_close(d_out.download(), expected, sum_tolerance(n),
                "softmax, rows " + std::to_string(rows) + ", n " + std::to_string(n));
  }
}

TEST_CASE("09.3 matmul_tiled matches the product computed on the CPU", "[exercise]") {
  if (const std::string why = no_gpu_reason(); !why.empty()) GPT2_EXERCISE_SKIP(why);
  for (auto [M, K, N] :
       {std::tuple{1, 1, 1}, std::tuple{16, 16, 16}, std::tuple{17, 33, 15}, std::tuple{100, 250, 70}}) {
    const auto a = random_floats(static_cast<size_t>(M) * K, 5),
               b = random_floats(static_cast<size_t>(K) * N, 6);
    std::vector<float> expected(static_cast<size_t>(M) * N);
    for (int i = 0; i < M; ++i) {
      for (int j = 0; j < N; ++j) {
        double s = 0;  // in double: the reference's own rounding does not count
        for (int k = 0; k < K; ++k)
          s += static_cast<double>(a[static_cast<size_t>(i) * K + k]) * b[static_cast<size_t>(k) * N + j];
        expected[static_cast<size_t>(i) * N + j] = static_cast<float>(s);
      }
    }
    auto d_a = on_device(a), d_b = on_device(b);
    auto d_out = poisoned(expected.size());
    exercise::matmul_tiled(d_out.get(), d_a.get(), d_b.get(), M, K, N);
    check_close(d_out.download(), expected, sum_tolerance(K),
                "(" + std::to_string(M) + ", " + std::to_string(K) + ", " + std::to_string(N) + ")");
  }
}
