// Every CudaBackend operation against CpuBackend (chapter 05's plain loops) on random inputs of
// several shapes, with write-only outputs poisoned (NaN) before each run and accumulated outputs
// starting from the same random values on both sides (so "+=" is tested, not just "=").
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/06_training/adamw.h"
#include "chapters/06_training/grad_clip.h"
#include "chapters/06_training/training_ops.h"
#include "chapters/09_cuda/cuda_backend.h"
#include "chapters/09_cuda/cuda_check.h"
#include "chapters/09_cuda/kernels.h"
#include "chapters/09_cuda/tests/cuda_test_helpers.h"
#include "common/error.h"
#include "tests/catch.h"

using namespace gpt2;
using namespace gpt2::cuda::testing;
using gpt2::cuda::DeviceArray;

namespace {

// One backend for the whole test program (creating a cuBLAS handle takes a while).
CudaBackend& gpu() {
  static CudaBackend backend;
  return backend;
}

template <typename T>
DeviceArray<T> dev(const std::vector<T>& host) {
  return DeviceArray<T>(std::span<const T>(host));
}

std::string shape_name(std::initializer_list<int> dims) {
  std::string s = "(";
  for (int d : dims) s += (s.size() > 1 ? ", " : "") + std::to_string(d);
  return s + ")";
}

}  // namespace

TEST_CASE("09 encoder forward and backward match the CPU", "[cuda]") {
  CpuBackend cpu;
  for (auto [B, T, C, V] : {std::array{2, 5, 7, 11}, std::array{4, 64, 96, 50}}) {
    const std::string at = shape_name({B, T, C, V});
    const size_t btc = static_cast<size_t>(B) * T * C;
    const auto tokens = random_ints(static_cast<size_t>(B) * T, V, 1);  // V small: tokens repeat
    const auto wte = random_floats(static_cast<size_t>(V) * C, 2),
               wpe = random_floats(static_cast<size_t>(T) * C, 3);
    auto d_tokens = dev(tokens);
    auto d_wte = dev(wte), d_wpe = dev(wpe);

    std::vector<float> out(btc);
    cpu.encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
    auto d_out = poisoned(btc);
    gpu().encoder_forward(d_out.get(), d_tokens.get(), d_wte.get(), d_wpe.get(), B, T, C);
    check_equal(d_out.download(), out, "encoder_forward out " + at);  // one rounded add per element

    const auto dout = random_floats(btc, 4);
    auto dwte = random_floats(wte.size(), 5), dwpe = random_floats(wpe.size(), 6);
    auto d_dout = dev(dout), d_dwte = dev(dwte), d_dwpe = dev(dwpe);
    cpu.encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
    gpu().encoder_backward(d_dwte.get(), d_dwpe.get(), d_dout.get(), d_tokens.get(), B, T, C);
    check_close(d_dwte.download(), dwte, sum_tolerance(B * T), "encoder_backward dwte " + at);
    check_close(d_dwpe.download(), dwpe, sum_tolerance(B), "encoder_backward dwpe " + at);
  }
}

TEST_CASE("09 LayerNorm forward and backward match the CPU", "[cuda]") {
  CpuBackend cpu;
  for (auto [N, C] : {std::array{3, 5}, std::array{64, 768}, std::array{17, 100}}) {
    const std::string at = shape_name({N, C});
    const size_t nc = static_cast<size_t>(N) * C;
    const auto inp = random_floats(nc, 10, 0.5f, 2.0f);  // a non-zero mean, so centring matters
    const auto w = random_floats(static_cast<size_t>(C), 11, 1.0f, 0.3f),
               b = random_floats(static_cast<size_t>(C), 12);
    auto d_inp = dev(inp), d_w = dev(w), d_b = dev(b);
    std::vector<float> out(nc), mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N));
    cpu.layernorm_forward(out.data(), mean.data(), rstd.data(), inp.data(), w.data(), b.data(), N, C, 1e-5f);
    auto d_out = poisoned(nc), d_mean = poisoned(static_cast<size_t>(N)),
         d_rstd = poisoned(static_cast<size_t>(N));
    gpu().layernorm_forward(d_out.get(), d_mean.get(), d_rstd.get(), d_inp.get(), d_w.get(), d_b.get(), N, C,
                            1e-5f);
    const double tol = sum_tolerance(C);
    check_close(d_out.download(), out, tol, "layernorm_forward out " + at);
    check_close(d_mean.download(), mean, tol, "layernorm_forward mean " + at);
    check_close(d_rstd.download(), rstd, tol, "layernorm_forward rstd " + at);

    const auto dout = random_floats(nc, 13);
    auto dinp = random_floats(nc, 14), dw = random_floats(static_cast<size_t>(C), 15),
         db = random_floats(static_cast<size_t>(C), 16);
    auto d_dout = dev(dout), d_dinp = dev(dinp), d_dw = dev(dw), d_db = dev(db);
    // Both sides use the CPU's saved statistics, so only the backward is compared.
    auto d_mean_cpu = dev(mean), d_rstd_cpu = dev(rstd);
    cpu.layernorm_backward(dinp.data(), dw.data(), db.data(), dout.data(), inp.data(), w.data(), mean.data(),
                           rstd.data(), N, C);
    gpu().layernorm_backward(d_dinp.get(), d_dw.get(), d_db.get(), d_dout.get(), d_inp.get(), d_w.get(),
                             d_mean_cpu.get(), d_rstd_cpu.get(), N, C);
    check_close(d_dinp.download(), dinp, sum_tolerance(C), "layernorm_backward dinp " + at);
    check_close(d_dw.download(), dw, sum_tolerance(N), "layernorm_backward dweight " + at);
    check_close(d_db.download(), db, sum_tolerance(N), "layernorm_backward dbias " + at);
  }
}

TEST_CASE("09 linear (cuBLAS) forward and backward match the CPU", "[cuda]") {
  CpuBackend cpu;
  for (auto [N, C, OC] : {std::array{5, 7, 3}, std::array{64, 96, 288}, std::array{33, 128, 50}}) {
    for (bool with_bias : {true, false}) {
      const std::string at = shape_name({N, C, OC}) + (with_bias ? " with bias" : " without bias");
      const auto inp = random_floats(static_cast<size_t>(N) * C, 20),
                 w = random_floats(static_cast<size_t>(C) * OC, 21),
                 b = random_floats(static_cast<size_t>(OC), 22);
      auto d_inp = dev(inp), d_w = dev(w), d_b = dev(b);
      std::vector<float> out(static_cast<size_t>(N) * OC);
      cpu.linear_forward(out.data(), inp.data(), w.data(), with_bias ? b.data() : nullptr, N, C, OC);
      auto d_out = poisoned(out.size());
      gpu().linear_forward(d_out.get(), d_inp.get(), d_w.get(), with_bias ? d_b.get() : nullptr, N, C, OC);
      check_close(d_out.download(), out, sum_tolerance(C + 1), "linear_forward " + at);

      const auto dout = random_floats(out.size(), 23);
      auto dinp = random_floats(inp.size(), 24), dw = random_floats(w.size(), 25),
           db = random_floats(b.size(), 26);
      auto d_dout = dev(dout), d_dinp = dev(dinp), d_dw = dev(dw), d_db = dev(db);
      cpu.linear_backward(dinp.data(), dw.data(), with_bias ? db.data() : nullptr, dout.data(), inp.data(),
                          w.data(), N, C, OC);
      gpu().linear_backward(d_dinp.get(), d_dw.get(), with_bias ? d_db.get() : nullptr, d_dout.get(),
                            d_inp.get(), d_w.get(), N, C, OC);
      check_close(d_dinp.download(), dinp, sum_tolerance(OC + 1), "linear_backward dinp " + at);
      check_close(d_dw.download(), dw, sum_tolerance(N + 1), "linear_backward dweight " + at);
      check_close(d_db.download(), db, sum_tolerance(N + 1), "linear_backward dbias " + at);
    }
  }
}

TEST_CASE("09 tied LM head (cuBLAS) forward and backward match the CPU", "[cuda]") {
  CpuBackend cpu;
  for (auto [N, C, V] : {std::array{4, 8, 13}, std::array{48, 64, 301}}) {
    const std::string at = shape_name({N, C, V});
    const auto inp = random_floats(static_cast<size_t>(N) * C, 30),
               wte = random_floats(static_cast<size_t>(V) * C, 31);
    auto d_inp = dev(inp), d_wte = dev(wte);
    std::vector<float> logits(static_cast<size_t>(N) * V);
    cpu.lm_head_forward(logits.data(), inp.data(), wte.data(), N, C, V);
    auto d_logits = poisoned(logits.size());
    gpu().lm_head_forward(d_logits.get(), d_inp.get(), d_wte.get(), N, C, V);
    check_close(d_logits.download(), logits, sum_tolerance(C), "lm_head_forward " + at);

    const auto dlogits = random_floats(logits.size(), 32);
    auto dinp = random_floats(inp.size(), 33), dwte = random_floats(wte.size(), 34);
    auto d_dlogits = dev(dlogits), d_dinp = dev(dinp), d_dwte = dev(dwte);
    cpu.lm_head_backward(dinp.data(), dwte.data(), dlogits.data(), inp.data(), wte.data(), N, C, V);
    gpu().lm_head_backward(d_dinp.get(), d_dwte.get(), d_dlogits.get(), d_inp.get(), d_wte.get(), N, C, V);
    check_close(d_dinp.download(), dinp, sum_tolerance(V + 1), "lm_head_backward dinp " + at);
    check_close(d_dwte.download(), dwte, sum_tolerance(N + 1), "lm_head_backward dwte " + at);
  }
}

TEST_CASE("09 multi-head causal attention forward and backward match the CPU", "[cuda]") {
  CpuBackend cpu;
  for (auto [B, T, C, NH] : {std::array{2, 8, 16, 2}, std::array{1, 64, 64, 4}, std::array{2, 33, 48, 3}}) {
    const std::string at = shape_name({B, T, C, NH});
    const size_t btc = static_cast<size_t>(B) * T * C, att_n = static_cast<size_t>(B) * NH * T * T;
    const auto qkv = random_floats(3 * btc, 40);
    auto d_qkv = dev(qkv);
    std::vector<float> out(btc), qkvh(3 * btc), att(att_n);
    cpu.attention_forward(out.data(), qkvh.data(), att.data(), qkv.data(), B, T, C, NH);
    auto d_out = poisoned(btc), d_qkvh = poisoned(3 * btc), d_att = poisoned(att_n);
    gpu().attention_forward(d_out.get(), d_qkvh.get(), d_att.get(), d_qkv.get(), B, T, C, NH);
    const int HS = C / NH;
    check_equal(d_qkvh.download(), qkvh, "attention_forward qkvh " + at);  // a pure copy
    check_close(d_att.download(), att, sum_tolerance(HS + T), "attention_forward att " + at);
    check_close(d_out.download(), out, sum_tolerance(HS + 2 * T), "attention_forward out " + at);

    const auto dout = random_floats(btc, 41);
    auto dqkv = random_floats(3 * btc, 42);
    auto d_dout = dev(dout), d_dqkv = dev(dqkv);
    // Both backward passes use the CPU's saved qkvh and att.
    auto d_qkvh_cpu = dev(qkvh), d_att_cpu = dev(att);
    cpu.attention_backward(dqkv.data(), dout.data(), qkvh.data(), att.data(), B, T, C, NH);
    gpu().attention_backward(d_dqkv.get(), d_dout.get(), d_qkvh_cpu.get(), d_att_cpu.get(), B, T, C, NH);
    check_close(d_dqkv.download(), dqkv, sum_tolerance(HS + 2 * T), "attention_backward dqkv " + at);
  }
}

TEST_CASE("09 GELU and residual forward and backward match the CPU", "[cuda]") {
  CpuBackend cpu;
  for (int n : {1, 1000, 70001}) {
    const std::string at = shape_name({n});
    const size_t un = static_cast<size_t>(n);
    const auto x = random_floats(un, 50, 0.0f, 3.0f), y = random_floats(un, 51), dout = random_floats(un, 52);
    auto d_x = dev(x), d_y = dev(y), d_dout = dev(dout);

    std::vector<float> out(un);
    auto d_out = poisoned(un);
    cpu.gelu_forward(out.data(), x.data(), n);
    gpu().gelu_forward(d_out.get(), d_x.get(), n);
    check_close(d_out.download(), out, sum_tolerance(1), "gelu_forward " + at);  // tanhf: at most 2 ulp off

    auto dinp = random_floats(un, 53);
    auto d_dinp = dev(dinp);
    cpu.gelu_backward(dinp.data(), x.data(), dout.data(), n);
    gpu().gelu_backward(d_dinp.get(), d_x.get(), d_dout.get(), n);
    check_close(d_dinp.download(), dinp, sum_tolerance(2), "gelu_backward " + at);

    d_out.poison();
    cpu.residual_forward(out.data(), x.data(), y.data(), n);
    gpu().residual_forward(d_out.get(), d_x.get(), d_y.get(), n);
    check_equal(d_out.download(), out, "residual_forward " + at);  // one rounded add each

    auto da = random_floats(un, 54), db = random_floats(un, 55);
    auto d_da = dev(da), d_db = dev(db);
    cpu.residual_backward(da.data(), db.data(), dout.data(), n);
    gpu().residual_backward(d_da.get(), d_db.get(), d_dout.get(), n);
    check_equal(d_da.download(), da, "residual_backward da " + at);
    check_equal(d_db.download(), db, "residual_backward db " + at);
  }
}

TEST_CASE("09 fused softmax cross-entropy forward and backward match the CPU", "[cuda]") {
  CpuBackend cpu;
  for (auto [N, V] : {std::array{4, 10}, std::array{8, 50257}, std::array{5, 1000}}) {
    const std::string at = shape_name({N, V});
    const size_t nv = static_cast<size_t>(N) * V;
    const auto logits = random_floats(nv, 60, 0.0f, 3.0f);
    auto targets = random_ints(static_cast<size_t>(N), V, 61);
    targets[1] = -1;  // a position without a target: loss 0, no gradient
    auto d_logits = dev(logits);
    auto d_targets = dev(targets);
    std::vector<float> losses(static_cast<size_t>(N)), lse(static_cast<size_t>(N));
    cpu.cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
    auto d_losses = poisoned(losses.size()), d_lse = poisoned(lse.size());
    gpu().cross_entropy_forward(d_losses.get(), d_lse.get(), d_logits.get(), d_targets.get(), N, V);
    check_close(d_lse.download(), lse, sum_tolerance(V), "cross_entropy_forward lse " + at);
    check_close(d_losses.download(), losses, sum_tolerance(V), "cross_entropy_forward losses " + at);

    auto dlogits = random_floats(nv, 62);
    auto d_dlogits = dev(dlogits), d_lse_cpu = dev(lse);
    cpu.cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), targets.data(), 0.25f, N, V);
    gpu().cross_entropy_backward(d_dlogits.get(), d_logits.get(), d_lse_cpu.get(), d_targets.get(), 0.25f, N,
                                 V);
    check_close(d_dlogits.download(), dlogits, sum_tolerance(4), "cross_entropy_backward " + at);
  }
}

TEST_CASE("09 AdamW on the GPU is bit-identical to the CPU's", "[cuda]") {
  const size_t n = 10007;
  auto param = random_floats(n, 70), m(std::vector<float>(n, 0.0f)), v(std::vector<float>(n, 0.0f));
  auto d_param = dev(param), d_m = dev(m), d_v = dev(v);
  for (int64_t step = 1; step <= 5; ++step) {
    const auto grad = random_floats(n, 70 + static_cast<uint64_t>(step));
    auto d_grad = dev(grad);
    const float lr = 1e-3f * static_cast<float>(step), wd = step % 2 ? 0.1f : 0.0f;
    adamw_update(param.data(), grad.data(), m.data(), v.data(), n, step, lr, 0.9f, 0.95f, 1e-8f, wd);
    cuda::adamw_update(d_param.get(), d_grad.get(), d_m.get(), d_v.get(), n, step, lr, 0.9f, 0.95f, 1e-8f,
                       wd);
  }
  check_equal(d_param.download(), param, "AdamW params after 5 steps");
  check_equal(d_m.download(), m, "AdamW m after 5 steps");
  check_equal(d_v.download(), v, "AdamW v after 5 steps");
}

TEST_CASE("09 attention over a KV cache matches the CPU", "[cuda]") {
  CpuBackend cpu;
  struct Dims {
    int B, T, pos0, maxT, C, NH;
  };
  for (const Dims d : {Dims{1, 1, 0, 4, 8, 2}, Dims{2, 5, 7, 16, 24, 3}, Dims{1, 1, 99, 128, 64, 4}}) {
    const std::string at = shape_name({d.B, d.T, d.pos0, d.maxT, d.C, d.NH});
    const size_t cache_n = static_cast<size_t>(d.B) * d.maxT * d.C;
    // The earlier positions' keys and values, then the new positions' q | k | v.
    auto k_cache = random_floats(cache_n, 80), v_cache = random_floats(cache_n, 81);
    const auto qkv = random_floats(static_cast<size_t>(d.B) * d.T * 3 * d.C, 82);
    auto d_k = dev(k_cache), d_v = dev(v_cache), d_qkv = dev(qkv);
    std::vector<float> out(static_cast<size_t>(d.B) * d.T * d.C);
    cpu.attention_forward_cached(out.data(), k_cache.data(), v_cache.data(), qkv.data(), d.B, d.T, d.pos0,
                                 d.maxT, d.C, d.NH);
    auto d_out = poisoned(out.size());
    gpu().attention_forward_cached(d_out.get(), d_k.get(), d_v.get(), d_qkv.get(), d.B, d.T, d.pos0, d.maxT,
                                   d.C, d.NH);
    check_equal(d_k.download(), k_cache, "cached keys " + at);  // the new rows are copies
    check_equal(d_v.download(), v_cache, "cached values " + at);
    // Sums of HS products (the scores) and of pos0 + T weighted values.
    check_close(d_out.download(), out, 4 * sum_tolerance(d.pos0 + d.T + d.C / d.NH),
                "cached attention " + at);
  }
}

TEST_CASE("09 sums, the gradient norm and scaling on the GPU match the CPU", "[cuda]") {
  CpuBackend cpu;
  PlainTrainingOps plain;
  for (size_t n : {size_t{1}, size_t{1000}, size_t{200003}}) {
    const auto x = random_floats(n, 90 + n);
    auto d_x = dev(x);
    const double s_cpu = cpu.sum(x.data(), n), s_gpu = gpu().sum(d_x.get(), n);
    double abs_sum = 0;
    for (float v : x) abs_sum += std::fabs(v);
    INFO("n=" << n);
    // Double sums of float terms in two orders: each within n 2^-53 of the sum of |x|.
    CHECK(std::fabs(s_gpu - s_cpu) <= 2.0 * static_cast<double>(n) * 1.2e-16 * abs_sum);
    const double norm_cpu = plain.grad_norm(x.data(), n), norm_gpu = gpu().grad_norm(d_x.get(), n);
    // The squares summed in double in two orders, the same bound relative to the sum of squares.
    CHECK(std::fabs(norm_gpu * norm_gpu - norm_cpu * norm_cpu) <=
          2.0 * static_cast<double>(n) * 1.2e-16 * norm_cpu * norm_cpu);
    // The norm's partial sums: added in chunk order they are the GPU's own norm, bit for bit
    // (chapter 11's ranks compute the norm of a sharded gradient from them).
    std::vector<double> chunks((n + kNormChunk - 1) / kNormChunk, -1.0);
    gpu().sum_squares_chunks(d_x.get(), n, chunks.data());
    double squares = 0;
    for (double c : chunks) squares += c;
    CHECK(std::sqrt(squares) == norm_gpu);
    std::vector<float> scaled = x;
    plain.scale(scaled.data(), n, 0.37f);
    gpu().scale(d_x.get(), n, 0.37f);
    check_equal(d_x.download(), scaled, "scale");  // one rounded multiply each
    const auto y = random_floats(n, 190 + n);
    auto d_y = dev(y);
    plain.add(scaled.data(), y.data(), n);
    gpu().add(d_x.get(), d_y.get(), n);
    check_equal(d_x.download(), scaled, "add");  // one rounded addition each
  }
}

TEST_CASE("09 CUDA errors name the call and the reason", "[cuda]") {
  try {
    cuda::check_cuda(cudaErrorMemoryAllocation, "cudaMalloc(&p, 1 << 40)", "somewhere.cpp", 12);
    FAIL("no exception");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("cudaMalloc(&p, 1 << 40)") != std::string::npos);
    CHECK(msg.find("somewhere.cpp:12") != std::string::npos);
    CHECK(msg.find("cudaErrorMemoryAllocation") != std::string::npos);
  }
  // A real failing call: asking the backend for a petabyte.
  try {
    gpu().allocate(size_t{1} << 50);
    FAIL("no exception");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("cudaMalloc") != std::string::npos);
    CHECK(msg.find("cudaErrorMemoryAllocation") != std::string::npos);
  }
  // The device still works afterwards (the error was not sticky).
  auto d = dev(std::vector<float>{1, 2, 3});
  CHECK(d.download() == std::vector<float>{1, 2, 3});
}
