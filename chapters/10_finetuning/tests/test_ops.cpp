// Tests of chapter 10's ops: dropout, the classification head with its loss, the masked SFT loss
// and LoRA. Each against PyTorch (tests/reference/10_finetuning_ops.py) and finite differences
// in double, and each backward checked to ADD into its gradient buffers.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "chapters/04_transformer_block/linear.h"
#include "chapters/04_transformer_block/tests/helpers.h"
#include "chapters/05_gpt2_model/dropout.h"
#include "chapters/10_finetuning/classifier_head.h"
#include "chapters/10_finetuning/lora.h"
#include "chapters/10_finetuning/masked_loss.h"

using ch04_test::check_rel;
using ch04_test::dot;
using ch04_test::kEps;
using ch04_test::kFdTol;
using ch04_test::kGradTol;
using ch04_test::kOutTol;
using ch04_test::random_vector;

namespace {

gpt2::SafetensorsFile fixture() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/10_finetuning_ops.safetensors");
}

std::vector<int> ints(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int64_t> v = f.get_int(name);
  return std::vector<int>(v.begin(), v.end());
}

// Runs `backward` once on a copy of `start` and twice on another: the second must have moved
// twice as far from `start` as the first (to 1e-12, in double). A backward that overwrites its
// buffer instead of adding into it fails.
template <typename Backward>
void check_adds(std::vector<double> start, Backward backward, const std::string& what) {
  std::vector<double> once = start, twice = start;
  backward(once);
  backward(twice);
  backward(twice);
  double worst = 0;
  for (size_t i = 0; i < start.size(); ++i) {
    const double expected = start[i] + 2 * (once[i] - start[i]);
    worst = std::fmax(worst, std::fabs(twice[i] - expected));
  }
  INFO(what << ": worst deviation from 'adds into the buffer' " << worst);
  CHECK(worst < 1e-12);
}

}  // namespace

// ----- dropout --------------------------------------------------------------------------------

TEST_CASE("dropout with PyTorch's mask gives PyTorch's output and gradient", "[dropout][parity]") {
  auto f = fixture();
  for (std::string name : {"dropout_p01", "dropout_p05"}) {
    SECTION(name) {
      std::vector<float> inp = f.get_vector(name + ".inp"), dout = f.get_vector(name + ".dout");
      const float p = f.get_vector(name + ".p")[0];
      std::vector<int> keep_int = ints(f, name + ".keep");
      std::vector<uint8_t> keep(keep_int.begin(), keep_int.end());
      const int64_t n = static_cast<int64_t>(inp.size());
      std::vector<float> out(n), dinp(n, 0.0f);
      gpt2::dropout_forward(out.data(), inp.data(), keep.data(), n, p);
      check_rel(out, f.get_vector(name + ".out"), kOutTol, "out");
      gpt2::dropout_backward(dinp.data(), dout.data(), keep.data(), n, p);
      check_rel(dinp, f.get_vector(name + ".dinp"), kGradTol, "dinp");
    }
  }
}

TEST_CASE("dropout backward matches finite differences and adds", "[dropout][gradcheck]") {
  const int64_t n = 40;
  const double p = 0.3;
  gpt2::Rng rng(1);
  std::vector<double> x = random_vector(n, rng), dout = random_vector(n, rng);
  std::vector<uint8_t> keep(n);
  gpt2::dropout_mask(keep.data(), n, static_cast<float>(p), gpt2::dropout_key(7, 0, 0));
  auto loss = [&]() {
    std::vector<double> out(n);
    gpt2::dropout_forward(out.data(), x.data(), keep.data(), n, p);
    return dot(out, dout);
  };
  std::vector<double> dx(n, 0.0);
  gpt2::dropout_backward(dx.data(), dout.data(), keep.data(), n, p);
  CHECK(gpt2::max_scaled_error<double>(dx, gpt2::numeric_gradient<double>(loss, x, kEps)) < kFdTol);
  check_adds(
      random_vector(n, rng),
      [&](std::vector<double>& g) { gpt2::dropout_backward(g.data(), dout.data(), keep.data(), n, p); },
      "dinp");
  // Dropped elements get exactly zero, kept ones exactly x / (1 - p).
  std::vector<double> out(n);
  gpt2::dropout_forward(out.data(), x.data(), keep.data(), n, p);
  for (int64_t i = 0; i < n; ++i) CHECK(out[i] == (keep[i] ? x[i] * (1.0 / (1.0 - p)) : 0.0));
}

TEST_CASE("dropout masks: reproducible, independent per key, the right fraction, off at p = 0", "[dropout]") {
  const int64_t n = 200000;
  const float p = 0.1f;
  std::vector<uint8_t> a(n), b(n), c(n);
  gpt2::dropout_mask(a.data(), n, p, gpt2::dropout_key(1337, 5, 3));
  gpt2::dropout_mask(b.data(), n, p, gpt2::dropout_key(1337, 5, 3));
  CHECK(a == b);  // same seed, pass and site: the same mask
  // Any element can be computed alone (what a GPU thread or a recomputing backward does).
  for (int64_t i : {int64_t{0}, int64_t{17}, n - 1})
    CHECK(a[i] == (gpt2::dropout_uniform(gpt2::dropout_key(1337, 5, 3), i) >= p ? 1 : 0));
  // The fraction kept is 1 - p within 5 standard deviations (sd = sqrt(p (1 - p) / n) ~ 6.7e-4).
  double kept = 0;
  for (uint8_t k : a) kept += k;
  CHECK(std::fabs(kept / n - 0.9) < 5 * std::sqrt(0.09 / n));
  // Another pass, site or seed gives a different mask that agrees with this one no more often
  // than independent masks do: P(same) = p^2 + (1 - p)^2 = 0.82.
  for (uint64_t key :
       {gpt2::dropout_key(1337, 6, 3), gpt2::dropout_key(1337, 5, 4), gpt2::dropout_key(1338, 5, 3)}) {
    gpt2::dropout_mask(c.data(), n, p, key);
    double same = 0;
    for (int64_t i = 0; i < n; ++i) same += a[i] == c[i] ? 1 : 0;
    CHECK(std::fabs(same / n - 0.82) < 5 * std::sqrt(0.82 * 0.18 / n));
  }
  // The mean of the output is the mean of the input (inverted dropout), here within 1%.
  std::vector<float> ones(n, 1.0f), out(n);
  gpt2::dropout_forward(out.data(), ones.data(), a.data(), n, p);
  double mean = 0;
  for (float v : out) mean += v;
  CHECK(std::fabs(mean / n - 1.0) < 0.01);
  // p = 0 keeps everything and changes nothing.
  gpt2::dropout_mask(c.data(), n, 0.0f, gpt2::dropout_key(1, 2, 3));
  int64_t kept_all = 0;
  for (uint8_t k : c) kept_all += k;
  CHECK(kept_all == n);
  std::vector<float> x(100), y(100);
  for (int i = 0; i < 100; ++i) x[i] = 0.37f * static_cast<float>(i) - 11.0f;
  gpt2::dropout_forward(y.data(), x.data(), c.data(), 100, 0.0f);
  CHECK(y == x);
}

// ----- classification head --------------------------------------------------------------------

TEST_CASE("classifier head and class cross-entropy match PyTorch", "[classifier][parity]") {
  auto f = fixture();
  const auto& shape = f.info("classifier.hidden").shape;
  const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]), C = static_cast<int>(shape[2]);
  const int K = static_cast<int>(f.info("classifier.weight").shape[0]);
  std::vector<float> hidden = f.get_vector("classifier.hidden"), w = f.get_vector("classifier.weight");
  std::vector<int> last = ints(f, "classifier.last"), labels = ints(f, "classifier.labels");
  std::vector<float> logits(B * K), pooled(B * C), losses(B), lse(B);
  gpt2::classifier_forward(logits.data(), pooled.data(), hidden.data(), last.data(), w.data(), B, T, C, K);
  check_rel(logits, f.get_vector("classifier.logits"), kOutTol, "logits");
  // The loss over classes is chapter 05's cross-entropy with V = K, one row per text.
  const float loss =
      gpt2::masked_cross_entropy_forward(losses.data(), lse.data(), logits.data(), labels.data(), B, K);
  CHECK(loss == Approx(f.get_vector("classifier.loss")[0]).epsilon(1e-6));
  std::vector<float> dlogits(B * K, 0.0f);
  gpt2::masked_cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), labels.data(), B, K);
  check_rel(dlogits, f.get_vector("classifier.dlogits"), kGradTol, "dlogits");
  std::vector<float> dhidden(hidden.size(), 0.0f), dw(w.size(), 0.0f);
  gpt2::classifier_backward(dhidden.data(), dw.data(), dlogits.data(), pooled.data(), last.data(), w.data(),
                            B, T, C, K);
  check_rel(dhidden, f.get_vector("classifier.dhidden"), kGradTol, "dhidden");
  check_rel(dw, f.get_vector("classifier.dweight"), kGradTol, "dweight");
}

TEST_CASE("classifier head backward matches finite differences and adds", "[classifier][gradcheck]") {
  const int B = 3, T = 4, C = 5, K = 3;
  gpt2::Rng rng(2);
  std::vector<double> hidden = random_vector(B * T * C, rng), w = random_vector(K * C, rng),
                      dlogits = random_vector(B * K, rng);
  std::vector<int> last = {3, 0, 2};
  auto loss = [&]() {
    std::vector<double> logits(B * K), pooled(B * C);
    gpt2::classifier_forward(logits.data(), pooled.data(), hidden.data(), last.data(), w.data(), B, T, C, K);
    return dot(logits, dlogits);
  };
  std::vector<double> logits(B * K), pooled(B * C);
  gpt2::classifier_forward(logits.data(), pooled.data(), hidden.data(), last.data(), w.data(), B, T, C, K);
  std::vector<double> dh(hidden.size(), 0.0), dw(w.size(), 0.0);
  gpt2::classifier_backward(dh.data(), dw.data(), dlogits.data(), pooled.data(), last.data(), w.data(), B, T,
                            C, K);
  CHECK(gpt2::max_scaled_error<double>(dh, gpt2::numeric_gradient<double>(loss, hidden, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(dw, gpt2::numeric_gradient<double>(loss, w, kEps)) < kFdTol);
  check_adds(
      random_vector(dh.size(), rng),
      [&](std::vector<double>& g) {
        gpt2::classifier_backward<double>(g.data(), nullptr, dlogits.data(), pooled.data(), last.data(),
                                          w.data(), B, T, C, K);
      },
      "dhidden");
  check_adds(
      random_vector(dw.size(), rng),
      [&](std::vector<double>& g) {
        gpt2::classifier_backward<double>(nullptr, g.data(), dlogits.data(), pooled.data(), last.data(),
                                          w.data(), B, T, C, K);
      },
      "dweight");
  // Only the last positions receive gradient.
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int c = 0; c < C; ++c)
        if (t != last[b]) CHECK(dh[(b * T + t) * C + c] == 0.0);
}

TEST_CASE("classifier head init: small, so the loss starts near ln K", "[classifier]") {
  const int K = 4, C = 64, B = 8;
  std::vector<float> w(K * C), again(K * C);
  gpt2::classifier_head_init(w.data(), K, C, 7);
  gpt2::classifier_head_init(again.data(), K, C, 7);
  CHECK(w == again);
  double sq = 0;
  for (float v : w) sq += static_cast<double>(v) * v;
  CHECK(std::sqrt(sq / (K * C)) == Approx(0.02).epsilon(0.15));
  // Hidden states of LayerNorm scale (unit variance): logits of size 0.02 sqrt(C) = 0.16, loss ~ ln 4.
  gpt2::Rng rng(8);
  std::vector<float> hidden(B * C), logits(B * K), pooled(B * C), losses(B), lse(B);
  rng.fill_normal(hidden);
  std::vector<int> last(B, 0), labels = {0, 1, 2, 3, 0, 1, 2, 3};
  gpt2::classifier_forward(logits.data(), pooled.data(), hidden.data(), last.data(), w.data(), B, 1, C, K);
  const float loss =
      gpt2::masked_cross_entropy_forward(losses.data(), lse.data(), logits.data(), labels.data(), B, K);
  CHECK(std::fabs(loss - std::log(4.0f)) < 0.1f);
}

// ----- masked SFT loss ------------------------------------------------------------------------

TEST_CASE("SFT targets and masked loss match transformers' labels = -100 convention", "[sft][parity]") {
  auto f = fixture();
  const auto& shape = f.info("sft.logits").shape;
  const int B = static_cast<int>(shape[0]), T = static_cast<int>(shape[1]), V = static_cast<int>(shape[2]);
  std::vector<int> tokens = ints(f, "sft.tokens"), assistant_int = ints(f, "sft.assistant");
  std::vector<uint8_t> assistant(assistant_int.begin(), assistant_int.end());
  std::vector<int> targets(B * T);
  int count = 0;
  for (int b = 0; b < B; ++b)
    count += gpt2::sft_targets(&targets[b * T], &tokens[b * T], &assistant[b * T], T);
  CHECK(count == 7);  // row 0: positions 2..6 predict the assistant's tokens 3..7; row 1: 3..4 predict 4..5
  std::vector<float> logits = f.get_vector("sft.logits"), losses(B * T), lse(B * T);
  const float loss =
      gpt2::masked_cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), B * T, V);
  CHECK(loss == Approx(f.get_vector("sft.loss")[0]).epsilon(1e-6));
  std::vector<float> dlogits(B * T * V, 0.0f);
  gpt2::masked_cross_entropy_backward(dlogits.data(), logits.data(), lse.data(), targets.data(), B * T, V);
  check_rel(dlogits, f.get_vector("sft.dlogits"), kGradTol, "dlogits");
}

TEST_CASE("masked loss backward matches finite differences and adds", "[sft][gradcheck]") {
  const int N = 6, V = 7;
  gpt2::Rng rng(3);
  std::vector<double> logits = random_vector(N * V, rng, 2.0);
  std::vector<int> tokens = {1, 4, 2, 6, 0, 3};
  std::vector<uint8_t> assistant = {0, 0, 1, 1, 0, 1};
  std::vector<int> targets(N);
  REQUIRE(gpt2::sft_targets(targets.data(), tokens.data(), assistant.data(), N) == 3);
  CHECK(targets == std::vector<int>{-1, 2, 6, -1, 3, -1});
  auto loss = [&]() {
    std::vector<double> losses(N), lse(N);
    return gpt2::masked_cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
  };
  std::vector<double> losses(N), lse(N), d(N * V, 0.0);
  gpt2::masked_cross_entropy_forward(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
  gpt2::masked_cross_entropy_backward(d.data(), logits.data(), lse.data(), targets.data(), N, V);
  CHECK(gpt2::max_scaled_error<double>(d, gpt2::numeric_gradient<double>(loss, logits, kEps)) < kFdTol);
  check_adds(
      random_vector(d.size(), rng),
      [&](std::vector<double>& g) {
        gpt2::masked_cross_entropy_backward(g.data(), logits.data(), lse.data(), targets.data(), N, V);
      },
      "dlogits");
  // Rows without a target get no gradient; a batch without targets has loss 0 and no gradient.
  for (int i : {0, 3, 5})
    for (int v = 0; v < V; ++v) CHECK(d[i * V + v] == 0.0);
  std::vector<int> none(N, -1);
  std::vector<double> d0(N * V, 0.0);
  CHECK(gpt2::masked_cross_entropy_forward(losses.data(), lse.data(), logits.data(), none.data(), N, V) ==
        0.0);
  gpt2::masked_cross_entropy_backward(d0.data(), logits.data(), lse.data(), none.data(), N, V);
  for (double v : d0) CHECK(v == 0.0);
}

// ----- LoRA -----------------------------------------------------------------------------------

TEST_CASE("LoRA forward, backward and merge match PEFT's computation", "[lora][parity]") {
  auto f = fixture();
  for (std::string name : {"lora_r3", "lora_r1", "lora_rs"}) {
    SECTION(name) {
      const int N = static_cast<int>(f.info(name + ".inp").shape[0]),
                C = static_cast<int>(f.info(name + ".inp").shape[1]);
      const int OC = static_cast<int>(f.info(name + ".weight").shape[1]);
      const int r = static_cast<int>(f.info(name + ".lora_A").shape[0]);
      REQUIRE(f.info(name + ".lora_A").shape == gpt2::Shape{r, C});   // PEFT: lora_A.weight (r, in)
      REQUIRE(f.info(name + ".lora_B").shape == gpt2::Shape{OC, r});  // lora_B.weight (out, r)
      const float s = f.get_vector(name + ".scaling")[0];
      std::vector<float> x = f.get_vector(name + ".inp"), W = f.get_vector(name + ".weight"),
                         b = f.get_vector(name + ".bias"), A = f.get_vector(name + ".lora_A"),
                         Bm = f.get_vector(name + ".lora_B"), dout = f.get_vector(name + ".dout");
      std::vector<float> out(N * OC), u(N * r);
      gpt2::linear_forward(out.data(), x.data(), W.data(), b.data(), N, C, OC);
      gpt2::lora_forward(out.data(), u.data(), x.data(), A.data(), Bm.data(), s, N, C, OC, r);
      check_rel(out, f.get_vector(name + ".out"), kOutTol, "out");
      // dx = the base layer's dout W^T (chapter 04, W frozen) + LoRA's part.
      std::vector<float> dx(x.size(), 0.0f), dA(A.size(), 0.0f), dB(Bm.size(), 0.0f);
      gpt2::linear_backward<float>(dx.data(), nullptr, nullptr, dout.data(), x.data(), W.data(), N, C, OC);
      gpt2::lora_backward(dx.data(), dA.data(), dB.data(), dout.data(), x.data(), u.data(), A.data(),
                          Bm.data(), s, N, C, OC, r);
      check_rel(dx, f.get_vector(name + ".dinp"), kGradTol, "dinp");
      check_rel(dA, f.get_vector(name + ".dlora_A"), kGradTol, "dlora_A");
      check_rel(dB, f.get_vector(name + ".dlora_B"), kGradTol, "dlora_B");
      // Merged: W + s (B A)^T, PEFT's get_delta_weight with fan_in_fan_out.
      std::vector<float> merged = W;
      gpt2::lora_merge(merged.data(), A.data(), Bm.data(), s, C, OC, r);
      check_rel(merged, f.get_vector(name + ".merged_weight"), kOutTol, "merged weight");
      // The merged layer alone computes the adapted output, up to float rounding.
      std::vector<float> out_merged(N * OC);
      gpt2::linear_forward(out_merged.data(), x.data(), merged.data(), b.data(), N, C, OC);
      check_rel(out_merged, out, 1e-6, "merged output vs unmerged");
    }
  }
}

TEST_CASE("LoRA backward matches finite differences and adds", "[lora][gradcheck]") {
  const int N = 3, C = 5, OC = 7, r = 2;
  const double s = 1.5;
  gpt2::Rng rng(4);
  std::vector<double> x = random_vector(N * C, rng), W = random_vector(C * OC, rng),
                      b = random_vector(OC, rng), A = random_vector(r * C, rng),
                      Bm = random_vector(OC * r, rng), dout = random_vector(N * OC, rng);
  auto loss = [&]() {
    std::vector<double> out(N * OC), u(N * r);
    gpt2::linear_forward(out.data(), x.data(), W.data(), b.data(), N, C, OC);
    gpt2::lora_forward(out.data(), u.data(), x.data(), A.data(), Bm.data(), s, N, C, OC, r);
    return dot(out, dout);
  };
  std::vector<double> out(N * OC), u(N * r);
  gpt2::linear_forward(out.data(), x.data(), W.data(), b.data(), N, C, OC);
  gpt2::lora_forward(out.data(), u.data(), x.data(), A.data(), Bm.data(), s, N, C, OC, r);
  std::vector<double> dx(x.size(), 0.0), dA(A.size(), 0.0), dB(Bm.size(), 0.0);
  gpt2::linear_backward<double>(dx.data(), nullptr, nullptr, dout.data(), x.data(), W.data(), N, C, OC);
  gpt2::lora_backward(dx.data(), dA.data(), dB.data(), dout.data(), x.data(), u.data(), A.data(), Bm.data(),
                      s, N, C, OC, r);
  CHECK(gpt2::max_scaled_error<double>(dx, gpt2::numeric_gradient<double>(loss, x, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(dA, gpt2::numeric_gradient<double>(loss, A, kEps)) < kFdTol);
  CHECK(gpt2::max_scaled_error<double>(dB, gpt2::numeric_gradient<double>(loss, Bm, kEps)) < kFdTol);
  auto lora_only = [&](double* gx, double* gA, double* gB) {
    gpt2::lora_backward(gx, gA, gB, dout.data(), x.data(), u.data(), A.data(), Bm.data(), s, N, C, OC, r);
  };
  check_adds(
      random_vector(dx.size(), rng), [&](std::vector<double>& g) { lora_only(g.data(), nullptr, nullptr); },
      "dinp");
  check_adds(
      random_vector(dA.size(), rng), [&](std::vector<double>& g) { lora_only(nullptr, g.data(), nullptr); },
      "dA");
  check_adds(
      random_vector(dB.size(), rng), [&](std::vector<double>& g) { lora_only(nullptr, nullptr, g.data()); },
      "dB");
}

TEST_CASE("LoRA with B = 0 gives exactly the base layer; B = 0 still gets a gradient", "[lora]") {
  const int N = 4, C = 6, OC = 18, r = 3;
  gpt2::Rng rng(5);
  std::vector<float> x(N * C), W(C * OC), b(OC), A(r * C), Bm(OC * r, 0.0f), dout(N * OC);
  rng.fill_normal(x);
  rng.fill_normal(W, 0.0f, 0.3f);
  rng.fill_normal(b, 0.0f, 0.1f);
  rng.fill_uniform(A, -1.0f / std::sqrt(6.0f), 1.0f / std::sqrt(6.0f));  // PEFT's initialisation of A
  rng.fill_normal(dout);
  std::vector<float> base(N * OC), adapted(N * OC), u(N * r);
  gpt2::linear_forward(base.data(), x.data(), W.data(), b.data(), N, C, OC);
  adapted = base;
  gpt2::lora_forward(adapted.data(), u.data(), x.data(), A.data(), Bm.data(), 2.0f, N, C, OC, r);
  CHECK(adapted == base);
  std::vector<float> merged = W;
  gpt2::lora_merge(merged.data(), A.data(), Bm.data(), 2.0f, C, OC, r);
  CHECK(merged == W);
  // dA = 0 while B = 0, but dB = s g^T u is not: training moves B first.
  std::vector<float> dA(A.size(), 0.0f), dB(Bm.size(), 0.0f);
  gpt2::lora_backward<float>(nullptr, dA.data(), dB.data(), dout.data(), x.data(), u.data(), A.data(),
                             Bm.data(), 2.0f, N, C, OC, r);
  for (float v : dA) CHECK(v == 0.0f);
  double norm = 0;
  for (float v : dB) norm += static_cast<double>(v) * v;
  CHECK(norm > 1e-3);
}

TEST_CASE("dropout sites: every site of a 12-layer model has its own index, hence its own mask",
          "[dropout]") {
  std::set<uint64_t> sites = {0};
  for (int l = 0; l < 12; ++l)
    for (auto s : {gpt2::DropoutSite::attention_weights, gpt2::DropoutSite::attention_output,
                   gpt2::DropoutSite::mlp_output})
      CHECK(sites.insert(gpt2::dropout_site_index(l, s)).second);
}
