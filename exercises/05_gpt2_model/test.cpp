#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "exercise.h"
#include "tests/catch.h"

namespace {
std::vector<float> randn(size_t n, uint64_t seed, float std = 1.0f) {
  gpt2::Rng rng(seed);
  std::vector<float> v(n);
  rng.fill_normal(v, 0.0f, std);
  return v;
}
}  // namespace

TEST_CASE("05.1 cross_entropy_backward_row matches finite differences and adds", "[exercise]") {
  const int V = 9, target = 4;
  std::vector<float> logits = randn(V, 3, 2.0f);
  // The loss -log softmax(z)[target], in double, straight from the definition.
  std::vector<double> z(logits.begin(), logits.end());
  auto loss = [&] {
    double s = 0;
    for (double x : z) s += std::exp(x);
    return std::log(s) - z[target];
  };
  std::vector<double> numeric = gpt2::numeric_gradient<double>(loss, z, 1e-6);
  std::vector<float> d(V, 1.0f);  // starts at 1: the function must add
  exercise::cross_entropy_backward_row(d.data(), logits.data(), target, 0.5f, V);
  for (int v = 0; v < V; ++v) CHECK(std::fabs((d[v] - 1.0f) - 0.5 * numeric[v]) < 1e-6);
  // Large logits must not overflow (exp(1000) is inf in float).
  std::vector<float> big = {1000.0f, 999.0f, 998.0f}, dbig(3, 0.0f);
  exercise::cross_entropy_backward_row(dbig.data(), big.data(), 0, 1.0f, 3);
  const double e1 = std::exp(-1.0), e2 = std::exp(-2.0), s = 1 + e1 + e2;
  CHECK(std::fabs(dbig[0] - (1 / s - 1)) < 1e-6);
  CHECK(std::fabs(dbig[1] - e1 / s) < 1e-6);
  CHECK(std::fabs(dbig[2] - e2 / s) < 1e-6);
}

TEST_CASE("05.2 count_parameters gives OpenAI's published sizes", "[exercise]") {
  CHECK(exercise::count_parameters(12, 768, 1024, 50257) == 124439808);    // gpt2
  CHECK(exercise::count_parameters(24, 1024, 1024, 50257) == 354823168);   // gpt2-medium
  CHECK(exercise::count_parameters(36, 1280, 1024, 50257) == 774030080);   // gpt2-large
  CHECK(exercise::count_parameters(48, 1600, 1024, 50257) == 1557611200);  // gpt2-xl: needs int64
  CHECK(exercise::count_parameters(2, 64, 32, 97) == 108352);              // the tests' tiny model
}

TEST_CASE("05.3 tied_embedding_backward adds the head's and the embedding's gradients", "[exercise]") {
  // f(wte) = sum(dlogits * (lnf @ wte^T)) + sum(dx0 * wte[tokens]) is linear in wte and its
  // gradient is exactly the tied gradient, so central differences recover it up to rounding.
  const int BT = 5, C = 3, V = 7;
  std::vector<float> dlogits = randn(BT * V, 1), lnf = randn(BT * C, 2), dx0 = randn(BT * C, 3);
  std::vector<int> tokens = {2, 5, 2, 0, 6};  // token 2 twice: both occurrences add
  std::vector<double> wte(V * C, 0.0);
  auto f = [&] {
    double s = 0;
    for (int i = 0; i < BT; ++i) {
      for (int v = 0; v < V; ++v) {
        double logit = 0;
        for (int c = 0; c < C; ++c) logit += lnf[i * C + c] * wte[v * C + c];
        s += dlogits[i * V + v] * logit;
      }
      for (int c = 0; c < C; ++c) s += dx0[i * C + c] * wte[tokens[i] * C + c];
    }
    return s;
  };
  std::vector<double> numeric = gpt2::numeric_gradient<double>(f, wte, 1e-3);
  std::vector<float> dwte(V * C, 0.25f);  // starts at 0.25: the function must add
  exercise::tied_embedding_backward(dwte.data(), dlogits.data(), lnf.data(), dx0.data(), tokens.data(), BT, C,
                                    V);
  for (int i = 0; i < V * C; ++i) CHECK(std::fabs((dwte[i] - 0.25f) - numeric[i]) < 1e-5);
}

namespace {

// The fixture's tensors by name, one vector each, and Weights views of them.
struct Tensors {
  std::map<std::string, std::vector<float>> by_name;
  std::vector<float>& at(const std::string& name) { return by_name.at(name); }
};

template <typename F>
exercise::Weights<F> view(Tensors& t, const std::string& prefix, int L) {
  auto p = [&](const std::string& name) -> F* { return t.at(prefix + name).data(); };
  exercise::Weights<F> w;
  w.wte = p("wte.weight");
  w.wpe = p("wpe.weight");
  for (int l = 0; l < L; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    w.blocks.push_back({p(h + "ln_1.weight"), p(h + "ln_1.bias"), p(h + "attn.c_attn.weight"),
                        p(h + "attn.c_attn.bias"), p(h + "attn.c_proj.weight"), p(h + "attn.c_proj.bias"),
                        p(h + "ln_2.weight"), p(h + "ln_2.bias"), p(h + "mlp.c_fc.weight"),
                        p(h + "mlp.c_fc.bias"), p(h + "mlp.c_proj.weight"), p(h + "mlp.c_proj.bias")});
  }
  w.lnf_w = p("ln_f.weight");
  w.lnf_b = p("ln_f.bias");
  return w;
}

std::vector<std::string> param_names(int L) {
  std::vector<std::string> names = {"wte.weight", "wpe.weight"};
  for (int l = 0; l < L; ++l)
    for (const char* part : gpt2::kBlockParamNames) names.push_back("h." + std::to_string(l) + "." + part);
  names.push_back("ln_f.weight");
  names.push_back("ln_f.bias");
  return names;
}

std::vector<int> ints(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int> out;
  for (int64_t x : f.get_int(name)) out.push_back(static_cast<int>(x));
  return out;
}

}  // namespace

TEST_CASE("05.4 model_backward gives PyTorch's gradient of every parameter, added", "[exercise]") {
  // tests/reference/05_model_backward.py: chapter 05's independent PyTorch GPT-2, autograd in float64.
  const auto f = gpt2::SafetensorsFile::open(std::filesystem::path(gpt2::fixture_dir()) /
                                             "05_model_backward.safetensors");
  const auto& meta = f.metadata();
  exercise::TinyConfig cfg;
  cfg.L = std::stoi(meta.at("n_layer"));
  cfg.NH = std::stoi(meta.at("n_head"));
  cfg.C = std::stoi(meta.at("n_embd"));
  cfg.V = std::stoi(meta.at("vocab_size"));
  cfg.maxT = std::stoi(meta.at("n_positions"));
  const int B = std::stoi(meta.at("B")), T = std::stoi(meta.at("T"));

  Tensors t;
  for (const std::string& name : param_names(cfg.L)) {
    t.by_name[name] = f.get_vector(name);
    t.by_name["grad." + name] = std::vector<float>(t.at(name).size(), 0.5f);  // starts at 0.5: must add
  }
  const exercise::Weights<const float> w = view<const float>(t, "", cfg.L);
  const exercise::Weights<float> g = view<float>(t, "grad.", cfg.L);

  // The given forward agrees with PyTorch (so the state the backward reads is right).
  const exercise::ForwardState s = model_forward(w, cfg, ints(f, "tokens"), ints(f, "targets"), B, T);
  REQUIRE(s.n_targets == 11);  // 3 of the 14 targets are -1
  CHECK(s.loss == Approx(f.get_vector("loss")[0]).epsilon(1e-5));
  {
    auto r = gpt2::rel_close(s.logits, f.get_vector("logits"), 1e-5, "logits");
    INFO(r.message);
    REQUIRE(r.ok);
  }

  const std::vector<float> logits_before = s.logits;
  exercise::model_backward(g, w, s, cfg);
  CHECK(s.logits == logits_before);  // the state is read, not changed

  for (const std::string& name : param_names(cfg.L)) {
    std::vector<float> added = t.at("grad." + name);
    for (float& x : added) x -= 0.5f;
    auto r = gpt2::rel_close(added, f.get_vector("grad." + name), 1e-4,
                             "gradient of " + name + " (minus its 0.5 start)");
    INFO(r.message);
    CHECK(r.ok);
  }
}
