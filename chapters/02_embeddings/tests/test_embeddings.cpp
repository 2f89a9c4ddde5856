// Tests of chapter 02: the embedding layer against PyTorch (fixture written by
// tests/reference/02_embeddings.py) and against finite differences, and the sinusoidal table
// against the tutorial formula and known values.
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "chapters/02_embeddings/embedding.h"
#include "chapters/02_embeddings/positional_encoding.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/02_embeddings.safetensors");
}

std::vector<int> tokens_of(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int64_t> ids = f.get_int(name);
  return std::vector<int>(ids.begin(), ids.end());
}

}  // namespace

// Tolerances (the relative error max |ours - ref| / max |ref| of common/testing.h): the forward is one
// float32 addition per element and the backward sums at most B*T = 16 float32 numbers per element, so both
// are within a few float32 roundings (6e-8 each) of the float64 reference: 1e-5 and 1e-4 leave a wide margin
// while still catching any wrong index or missing term.
TEST_CASE("encoder forward and backward match PyTorch", "[embeddings][parity]") {
  auto f = fixture();
  for (std::string name : {"b3t5", "b1t1", "b2t8"}) {
    SECTION(name) {
      const auto& shape = f.info(name + ".dout").shape;  // (B, T, C)
      const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]),
                C = static_cast<int>(shape[2]);
      std::vector<int> tokens = tokens_of(f, name + ".tokens");
      std::vector<float> wte = f.get_vector(name + ".wte"), wpe = f.get_vector(name + ".wpe");
      std::vector<float> dout = f.get_vector(name + ".dout");
      const int V = static_cast<int>(f.info(name + ".wte").shape[0]);
      gpt2::check_tokens(tokens.data(), tokens.size(), V);

      std::vector<float> out(dout.size());
      gpt2::encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
      auto r = gpt2::rel_close(out, f.get_vector(name + ".out"), 1e-5, "out");
      INFO(r.message);
      CHECK(r.ok);

      std::vector<float> dwte(wte.size(), 0.0f), dwpe(wpe.size(), 0.0f);
      gpt2::encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
      auto r1 = gpt2::rel_close(dwte, f.get_vector(name + ".dwte"), 1e-4, "dwte");
      INFO(r1.message);
      CHECK(r1.ok);
      auto r2 = gpt2::rel_close(dwpe, f.get_vector(name + ".dwpe"), 1e-4, "dwpe");
      INFO(r2.message);
      CHECK(r2.ok);
    }
  }
}

TEST_CASE("encoder backward matches finite differences (double)", "[embeddings][gradcheck]") {
  // L = sum(out * w) for a fixed random w, so dL/dout = w. The embedding is linear in wte and wpe,
  // so the central difference is exact up to rounding: a 1e-8 bound is safe (eps = 1e-5 gives
  // rounding errors about 1e-16 * |L| / eps ~ 1e-10).
  const int B = 2, T = 3, C = 5, V = 4, max_T = 4;
  const std::vector<int> tokens = {1, 1, 3, 0, 1, 2};  // token 1 three times
  gpt2::Rng rng(42);
  std::vector<double> wte(V * C), wpe(max_T * C), w(B * T * C);
  for (double& x : wte) x = rng.normal();
  for (double& x : wpe) x = rng.normal();
  for (double& x : w) x = rng.normal();
  auto loss = [&]() {
    std::vector<double> out(B * T * C);
    gpt2::encoder_forward(out.data(), tokens.data(), wte.data(), wpe.data(), B, T, C);
    return std::inner_product(out.begin(), out.end(), w.begin(), 0.0);
  };
  std::vector<double> dwte(wte.size(), 0.0), dwpe(wpe.size(), 0.0);
  gpt2::encoder_backward(dwte.data(), dwpe.data(), w.data(), tokens.data(), B, T, C);
  auto num_wte = gpt2::numeric_gradient<double>(loss, wte, 1e-5);
  auto num_wpe = gpt2::numeric_gradient<double>(loss, wpe, 1e-5);
  CHECK(gpt2::max_scaled_error<double>(dwte, num_wte) < 1e-8);
  CHECK(gpt2::max_scaled_error<double>(dwpe, num_wpe) < 1e-8);
  // Unused rows get exactly nothing: token 3's row is used once, row 3 of wpe (t = 3 >= T) never.
  for (int c = 0; c < C; ++c) CHECK(dwpe[3 * C + c] == 0.0);
}

TEST_CASE("encoder backward adds into the gradient buffers", "[embeddings]") {
  const int B = 1, T = 2, C = 3;
  const std::vector<int> tokens = {2, 2};
  std::vector<float> dout = {1, 2, 3, 10, 20, 30};
  std::vector<float> dwte(3 * C, 100.0f), dwpe(T * C, 100.0f);
  gpt2::encoder_backward(dwte.data(), dwpe.data(), dout.data(), tokens.data(), B, T, C);
  // Row 2 of dwte: 100 + (1 + 10), 100 + (2 + 20), 100 + (3 + 30); rows 0 and 1 unchanged.
  CHECK(dwte == std::vector<float>{100, 100, 100, 100, 100, 100, 111, 122, 133});
  CHECK(dwpe == std::vector<float>{101, 102, 103, 110, 120, 130});
  // Null gradient pointers are allowed (e.g. a frozen positional table).
  gpt2::encoder_backward<float>(nullptr, dwpe.data(), dout.data(), tokens.data(), B, T, C);
  CHECK(dwpe[0] == 102.0f);
}

TEST_CASE("check_tokens names the bad id", "[embeddings]") {
  const std::vector<int> ok = {0, 4, 2}, bad = {0, 5, 2};
  CHECK_NOTHROW(gpt2::check_tokens(ok.data(), ok.size(), 5));
  CHECK_THROWS_WITH(gpt2::check_tokens(bad.data(), bad.size(), 5, "prompt"),
                    "prompt: token id 5 at index 1 is outside the vocabulary [0, 5)");
}

TEST_CASE("sinusoidal positional encoding matches the tutorial formula", "[embeddings][parity]") {
  auto f = fixture();
  for (std::string name : {"pe_t50_c16", "pe_t7_c9", "pe_t1_c4"}) {
    const auto& shape = f.info(name).shape;
    const int T = static_cast<int>(shape[0]), C = static_cast<int>(shape[1]);
    std::vector<float> pe(static_cast<size_t>(T) * C);
    gpt2::sinusoidal_positional_encoding(pe.data(), T, C);
    auto r = gpt2::rel_close(pe, f.get_vector(name), 1e-5, name);  // both round the same double once
    INFO(r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("sinusoidal positional encoding: known values", "[embeddings]") {
  const int T = 20, C = 8;
  std::vector<double> pe(T * C);
  gpt2::sinusoidal_positional_encoding(pe.data(), T, C);
  // Position 0: every angle is 0, so sines are 0 and cosines 1.
  for (int c = 0; c < C; ++c) CHECK(pe[c] == (c % 2 == 0 ? 0.0 : 1.0));
  // Channel pair 0 has frequency 1: PE[t, 0] = sin t, PE[t, 1] = cos t.
  for (int t = 0; t < T; ++t) {
    CHECK(pe[t * C + 0] == Approx(std::sin(t)).margin(1e-15));
    CHECK(pe[t * C + 1] == Approx(std::cos(t)).margin(1e-15));
  }
  // Each pair is a point on the unit circle.
  for (int t = 0; t < T; ++t)
    for (int c = 0; c < C; c += 2)
      CHECK(pe[t * C + c] * pe[t * C + c] + pe[t * C + c + 1] * pe[t * C + c + 1] == Approx(1.0));
  // The dot product PE[t] . PE[t + k] depends only on the offset k (sum_i cos(k w_i)).
  auto dot = [&](int a, int b) {
    double s = 0;
    for (int c = 0; c < C; ++c) s += pe[a * C + c] * pe[b * C + c];
    return s;
  };
  CHECK(dot(0, 3) == Approx(dot(11, 14)).margin(1e-12));
  CHECK(dot(2, 2) == Approx(C / 2.0));
}
