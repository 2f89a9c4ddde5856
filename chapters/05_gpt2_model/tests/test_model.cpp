// Chapter 05: the whole model against an independent PyTorch GPT-2 (tests/reference/05_model.py).
//
// Tolerances: the reference computes in float64 on the same float32 weights, so its numbers are
// the exact answer and the difference is our float32 rounding alone. Sums of up to 4C = 256
// terms through 2 blocks give relative errors around 1e-6 on logits and loss (allowed: 1e-5).
// Gradients go through more reductions (over B T = 64 positions, V = 97 classes) and subtract
// nearly equal numbers in LayerNorm's backward: around 1e-5 (allowed: 1e-4).
#include <unistd.h>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/lm_head.h"
#include "common/error.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using gpt2::GPT2;
using gpt2::GPT2Config;

namespace {

struct Fixture {
  gpt2::SafetensorsFile file =
      gpt2::SafetensorsFile::open(fs::path(gpt2::fixture_dir()) / "05_model.safetensors");
  std::vector<int> ints(const std::string& name) const {
    std::vector<int64_t> v = file.get_int(name);
    return {v.begin(), v.end()};
  }
  float scalar(const std::string& name) const { return file.get_vector(name).at(0); }
};

fs::path tiny_dir(const std::string& suffix = "") {
  return fs::path(gpt2::fixture_dir()) / ("05_hf_tiny" + suffix);
}

constexpr int kB = 2, kT = 32;

}  // namespace

TEST_CASE("05 model: logits, loss and every gradient match PyTorch", "[model][parity]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 model = GPT2::load(tiny_dir(), cpu);
  model.set_dropout({});  // its config.json says 0.1; the reference has no dropout
  model.set_mode(GPT2::Mode::training);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  REQUIRE(tokens.size() == kB * kT);

  float loss = model.forward(tokens.data(), targets.data(), kB, kT);
  auto r = gpt2::rel_close(model.logits(), fx.file.get_vector("logits"), 1e-5, "logits");
  INFO(r.message);
  CHECK(r.ok);
  float ref = fx.scalar("loss");
  CHECK(std::fabs(loss - ref) / std::fabs(ref) <= 1e-5);

  model.zero_grad();
  model.backward();
  for (const gpt2::ParamSpec& s : model.layout().specs()) {
    auto g = gpt2::rel_close(model.grad(s.name).span(), fx.file.get_vector("grad." + s.name), 1e-4, s.name);
    INFO(g.message);
    CHECK(g.ok);
  }
}

TEST_CASE("05 model with dropout: logits, loss and every gradient match PyTorch with the same masks",
          "[model][parity][dropout]") {
  // tests/reference/05_model_dropout.py: 05_model.py's GPT-2 with dropout at GPT-2's sites and the
  // masks that dropout.h's rule gives for (seed, pass, site), computed in Python.
  const gpt2::SafetensorsFile ref =
      gpt2::SafetensorsFile::open(fs::path(gpt2::fixture_dir()) / "05_model_dropout.safetensors");
  Fixture fx;
  const std::vector<float> p = ref.get_vector("p");
  const uint64_t seed = static_cast<uint64_t>(ref.get_int("seed").at(0));
  const uint64_t pass = static_cast<uint64_t>(ref.get_int("pass").at(0));
  gpt2::CpuBackend cpu;
  GPT2 model = GPT2::load(tiny_dir(), cpu);
  model.set_dropout({p[0], p[1], p[2]});
  model.set_mode(GPT2::Mode::training);
  model.set_dropout_pass(seed, pass);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  const float loss = model.forward(tokens.data(), targets.data(), kB, kT);
  auto r = gpt2::rel_close(model.logits(), ref.get_vector("logits"), 1e-5, "logits with dropout");
  INFO(r.message);
  CHECK(r.ok);
  CHECK(std::fabs(loss - ref.get_vector("loss")[0]) / ref.get_vector("loss")[0] <= 1e-5);
  model.zero_grad();
  model.backward();
  for (const gpt2::ParamSpec& s : model.layout().specs()) {
    auto g = gpt2::rel_close(model.grad(s.name).span(), ref.get_vector("grad." + s.name), 1e-4, s.name);
    INFO(g.message);
    CHECK(g.ok);
  }
  // The next pass draws other masks; the same (seed, pass) the same masks, bit for bit.
  const float next = model.forward(tokens.data(), targets.data(), kB, kT);
  CHECK(next != loss);
  model.set_dropout_pass(seed, pass);
  CHECK(model.forward(tokens.data(), targets.data(), kB, kT) == loss);
  model.set_dropout_pass(seed + 1, pass);
  CHECK(model.forward(tokens.data(), targets.data(), kB, kT) != loss);
}

TEST_CASE("05 model: dropout acts in training mode only; p = 0 computes exactly as without dropout",
          "[model][dropout]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 plain = GPT2::load(tiny_dir(), cpu), dropping = GPT2::load(tiny_dir(), cpu);
  plain.set_dropout({});
  dropping.set_dropout({0.1f, 0.2f, 0.3f});
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  auto same_logits = [&](const char* what) {
    auto a = plain.logits(), b = dropping.logits();
    INFO(what);
    CHECK((a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0));
  };
  for (GPT2::Mode mode : {GPT2::Mode::inference, GPT2::Mode::inspect}) {
    plain.set_mode(mode);
    dropping.set_mode(mode);
    CHECK(plain.forward(tokens.data(), targets.data(), kB, kT) ==
          dropping.forward(tokens.data(), targets.data(), kB, kT));
    same_logits("evaluation");
  }
  // Generation, even in training mode: the cache path never drops.
  dropping.set_mode(GPT2::Mode::training);
  gpt2::KVCache ca(plain.config(), cpu), cb(dropping.config(), cpu);
  plain.forward(ca, tokens.data(), 1, 8);
  dropping.forward(cb, tokens.data(), 1, 8);
  same_logits("generation");
  // Training with every probability 0 is training without dropout, bit for bit (no call is made).
  dropping.set_dropout({});
  plain.set_mode(GPT2::Mode::training);
  CHECK(plain.forward(tokens.data(), targets.data(), kB, kT) ==
        dropping.forward(tokens.data(), targets.data(), kB, kT));
  plain.zero_grad();
  dropping.zero_grad();
  plain.backward();
  dropping.backward();
  CHECK(plain.grads_to_host().to_vector() == dropping.grads_to_host().to_vector());
  CHECK_THROWS_WITH(dropping.set_dropout({0.0f, 1.0f, 0.0f}),
                    "set_dropout: attn_pdrop must be a probability in [0, 1), got 1");
}

TEST_CASE("05 model: training the last blocks only: their gradients as in full training, none for the rest",
          "[model][finetune]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 full = GPT2::load(tiny_dir(), cpu), last = GPT2::load(tiny_dir(), cpu);
  full.set_dropout({});
  last.set_dropout({});
  const int64_t first = last.layout().find("h.1.ln_1.weight").offset;
  last.set_trainable_from(first);
  full.set_mode(GPT2::Mode::training);
  last.set_mode(GPT2::Mode::training);
  CHECK(last.grads().size() == static_cast<size_t>(last.num_parameters() - first));  // no memory for the rest
  CHECK(last.trainable_params().data() == last.params().data() + first);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  CHECK(full.forward(tokens.data(), targets.data(), kB, kT) ==
        last.forward(tokens.data(), targets.data(), kB, kT));
  full.zero_grad();
  last.zero_grad();
  full.backward();
  last.backward();
  const std::vector<float> all = full.grads_to_host().to_vector(), tail = last.grads_to_host().to_vector();
  CHECK(std::equal(tail.begin(), tail.end(), all.begin() + first));  // the same bits
  CHECK(last.grad("ln_f.bias").to_vector() == full.grad("ln_f.bias").to_vector());
  CHECK_THROWS_WITH(last.grad("h.0.mlp.c_fc.weight"), Catch::Contains("frozen"));
  CHECK_THROWS_WITH(last.set_trainable_from(first + 1), Catch::Contains("is not where"));
  // Only the layers attached to the model: nothing of its own trains, and nothing is allocated for it.
  last.set_trainable_from(last.num_parameters());
  CHECK(last.grads().empty());
}

TEST_CASE("05 model: attached parameters follow the model's own in one buffer; forward_hidden stops at ln_f",
          "[model][finetune]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 model = GPT2::load(tiny_dir(), cpu);
  model.set_dropout({});  // two training passes to compare: no masks
  const std::vector<float> before = model.params_to_host().to_vector();
  CHECK(model.attach_parameters(10) == 0);
  CHECK(model.attach_parameters(5) == 10);
  CHECK(model.params_to_host().to_vector() == before);  // the model's own moved with the buffer
  REQUIRE(model.attached_params().size() == 15);
  CHECK(model.attached_params().data() == model.params().data() + model.num_parameters());
  for (float x : model.attached_params()) CHECK(x == 0.0f);
  model.set_trainable_from(model.layout().find("ln_f.weight").offset);
  model.set_mode(GPT2::Mode::training);
  CHECK(model.trainable_params().size() == 2 * 64 + 15);  // ln_f and the attached ones
  CHECK(model.grads().size() == model.trainable_params().size());
  CHECK(model.attached_grads().data() == model.grads().data() + 2 * 64);

  // forward_hidden: ln_f's output as forward() computes it, no logits.
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  model.forward(tokens.data(), targets.data(), kB, kT);
  const std::vector<float> lnf(model.activations().lnf, model.activations().lnf + kB * kT * 64);
  model.forward_hidden(tokens.data(), kB, kT);
  CHECK(std::equal(lnf.begin(), lnf.end(), model.activations().lnf));
  CHECK_THROWS_WITH(model.logits(), Catch::Contains("forward_hidden"));
}

TEST_CASE("05 model: ignored targets (-1) drop out of the mean and the gradient", "[model][parity]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 model = GPT2::load(tiny_dir(), cpu);
  model.set_dropout({});  // its config.json says 0.1; the reference has no dropout
  model.set_mode(GPT2::Mode::training);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets_ignore");
  float loss = model.forward(tokens.data(), targets.data(), kB, kT);
  CHECK(std::fabs(loss - fx.scalar("loss_ignore")) / fx.scalar("loss_ignore") <= 1e-5);
  CHECK(model.losses()[0] == 0.0f);
  model.zero_grad();
  model.backward();
  for (const char* name : {"wte.weight", "ln_f.weight"}) {
    auto g = gpt2::rel_close(model.grad(name).span(), fx.file.get_vector(std::string("grad_ignore.") + name),
                             1e-4, name);
    INFO(g.message);
    CHECK(g.ok);
  }
}

TEST_CASE("05 model: F16 and BF16 checkpoints give PyTorch's loss for the rounded weights",
          "[model][parity]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  for (const char* tag : {"f16", "bf16"}) {
    INFO(tag);
    GPT2 model = GPT2::load(tiny_dir(std::string("_") + tag), cpu);
    float loss = model.forward(tokens.data(), targets.data(), kB, kT);
    float ref = fx.scalar(std::string("loss_") + tag);
    CHECK(std::fabs(loss - ref) / ref <= 1e-5);
    CHECK(std::fabs(loss - fx.scalar("loss")) > 1e-6);  // the rounding did change the loss
  }
}

TEST_CASE("05 model: the tied embedding's gradient is the sum of its two uses", "[model]") {
  // d loss / d wte = head part (dlogits^T lnf) + embedding part (dx0 scattered into the rows of
  // the input tokens). Rows of tokens absent from the input get the head part only.
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 model = GPT2::load(tiny_dir(), cpu);
  model.set_dropout({});  // its config.json says 0.1; the reference has no dropout
  model.set_mode(GPT2::Mode::training);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  model.forward(tokens.data(), targets.data(), kB, kT);
  model.zero_grad();
  model.backward();
  const int V = 97, C = 64, BT = kB * kT;
  // The head part alone, recomputed from the saved activations.
  const gpt2::Activations& a = model.activations();
  std::vector<float> dlogits(static_cast<size_t>(BT) * V, 0.0f), head(static_cast<size_t>(V) * C, 0.0f);
  gpt2::cross_entropy_backward(dlogits.data(), a.logits, a.lse, targets.data(), 1.0f / BT, BT, V);
  gpt2::lm_head_backward<float>(nullptr, head.data(), dlogits.data(), a.lnf, model.param("wte.weight").data(),
                                BT, C, V);
  std::vector<bool> seen(V, false);
  for (int t : tokens) seen[static_cast<size_t>(t)] = true;
  std::vector<float> full = model.grad("wte.weight").to_vector();
  double unseen_diff = 0, seen_diff = 0;
  int unseen = 0;
  for (int v = 0; v < V; ++v) {
    for (int c = 0; c < C; ++c) {
      size_t i = static_cast<size_t>(v) * C + c;
      double d = std::fabs(full[i] - head[i]);
      if (seen[static_cast<size_t>(v)]) {
        seen_diff = std::max(seen_diff, d);
      } else {
        unseen_diff = std::max(unseen_diff, d);
      }
    }
    unseen += !seen[static_cast<size_t>(v)];
  }
  REQUIRE(unseen > 0);
  CHECK(unseen_diff == 0.0);  // identical sums in identical order
  CHECK(seen_diff > 1e-3);    // the embedding part is there too
}

TEST_CASE("05 model: init_random follows GPT-2 and is deterministic", "[model]") {
  gpt2::CpuBackend cpu;
  GPT2Config c = GPT2Config::make(4, 4, 64, 32, 97);
  GPT2 a(c, cpu), b(c, cpu), other(c, cpu);
  a.init_random(42);
  b.init_random(42);
  other.init_random(43);
  CHECK(std::memcmp(a.params().data(), b.params().data(), static_cast<size_t>(a.num_parameters()) * 4) == 0);
  CHECK(std::memcmp(a.params().data(), other.params().data(), 64) != 0);
  auto stats = [&](const char* name) {
    std::vector<float> v = a.param(name).to_vector();
    double mean = 0, sq = 0;
    for (float x : v) mean += x;
    mean /= static_cast<double>(v.size());
    for (float x : v) sq += (x - mean) * (x - mean);
    return std::pair{mean, std::sqrt(sq / static_cast<double>(v.size()))};
  };
  // Sample standard deviations of n = 6208..16384 normals are within a few percent of the truth
  // (relative standard error 1/sqrt(2n) < 1%); 5% is five of those.
  auto [m1, s1] = stats("wte.weight");
  CHECK(std::fabs(m1) < 0.002);
  CHECK(std::fabs(s1 / (0.02) - 1) < 0.05);
  auto [m2, s2] = stats("h.1.mlp.c_fc.weight");
  CHECK(std::fabs(s2 / (0.02) - 1) < 0.05);
  auto [m3, s3] = stats("h.3.attn.c_proj.weight");
  CHECK(std::fabs(s3 / (0.02 / std::sqrt(8.0)) - 1) < 0.05);
  auto [m4, s4] = stats("h.0.mlp.c_proj.weight");
  CHECK(std::fabs(s4 / (0.02 / std::sqrt(8.0)) - 1) < 0.05);
  for (const auto& s : a.layout().specs()) {
    if (s.is_matrix()) continue;
    std::vector<float> v = a.param(s.name).to_vector();
    float expected = s.name.find("ln_") != std::string::npos && s.name.ends_with("weight") ? 1.0f : 0.0f;
    for (float x : v) REQUIRE(x == expected);
  }
  (void)m2;
  (void)m3;
  (void)m4;
}

TEST_CASE("05 model: backward adds, batches change shape, save/load round trip", "[model]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 model = GPT2::load(tiny_dir(), cpu);
  model.set_dropout({});  // its config.json says 0.1; the reference has no dropout
  model.set_mode(GPT2::Mode::training);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  float loss = model.forward(tokens.data(), targets.data(), kB, kT);
  model.zero_grad();
  model.backward();
  std::vector<float> once = model.grads_to_host().to_vector();
  model.backward();  // accumulates: twice the gradient, up to the rounding of the running sums
  std::vector<float> doubled = once;
  for (float& x : doubled) x *= 2;
  auto r = gpt2::rel_close(model.grads(), doubled, 1e-6, "gradient after two backward()");
  INFO(r.message);
  CHECK(r.ok);

  // Inference on a shorter batch, then the training batch again: the same loss, bit for bit.
  CHECK(model.forward(tokens.data(), nullptr, 1, 5) == -1.0f);
  CHECK(model.logits().size() == 5 * 97);
  CHECK(model.forward(tokens.data(), targets.data(), kB, kT) == loss);
  // The first row of a causal model does not depend on what follows it, nor on the batch.
  model.forward(tokens.data(), nullptr, 1, 1);
  std::vector<float> first(model.logits().begin(), model.logits().end());
  model.forward(tokens.data(), nullptr, kB, kT);
  for (int v = 0; v < 97; ++v) CHECK(model.logits()[static_cast<size_t>(v)] == first[static_cast<size_t>(v)]);

  fs::path dir = fs::temp_directory_path() / ("gpt2_test05_model_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  model.save(dir);
  GPT2 back = GPT2::load(dir, cpu);
  CHECK(back.forward(tokens.data(), targets.data(), kB, kT) == loss);
  GPT2 fresh(model.config(), cpu);
  fresh.read_weights(dir);
  CHECK(fresh.forward(tokens.data(), targets.data(), kB, kT) == loss);
  GPT2 wrong(GPT2Config::make(1, 4, 64, 32, 97), cpu);
  CHECK_THROWS_WITH(wrong.read_weights(dir), Catch::Contains("the model there is L=2 NH=4 C=64"));
  fs::remove_all(dir);
}

TEST_CASE("05 model: backward reports the tail of final gradients, from the end of the buffer", "[model]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  GPT2 model = GPT2::load(tiny_dir(), cpu);
  model.set_mode(GPT2::Mode::training);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  model.forward(tokens.data(), targets.data(), kB, kT);
  // At each report, a copy of the tail it declares final and of wte's gradient; afterwards the
  // tail, and every row of wte but the input tokens' while wte is named, must equal the end result.
  std::vector<gpt2::GradsReady> reported;
  std::vector<std::vector<float>> tails, tables;
  model.set_grad_ready_callback([&](const gpt2::GradsReady& ready) {
    reported.push_back(ready);
    const auto grads = model.grads();
    tails.emplace_back(grads.begin() + static_cast<std::ptrdiff_t>(ready.first_ready), grads.end());
    tables.emplace_back(grads.begin(),
                        grads.begin() + static_cast<std::ptrdiff_t>(model.layout().find("wte.weight").numel));
  });
  model.zero_grad();
  model.backward();
  const gpt2::ParameterLayout& layout = model.layout();
  const int L = model.config().n_layer;
  std::vector<size_t> expected = {static_cast<size_t>(layout.find("ln_f.weight").offset)};
  for (int l = L - 1; l >= 0; --l)
    expected.push_back(static_cast<size_t>(layout.find("h." + std::to_string(l) + ".ln_1.weight").offset));
  expected.push_back(0);
  REQUIRE(reported.size() == expected.size());
  const size_t V = static_cast<size_t>(model.config().vocab_size),
               C = static_cast<size_t>(model.config().n_embd);
  std::vector<bool> input_row(V, false);
  for (int t : tokens) input_row[static_cast<size_t>(t)] = true;
  for (size_t i = 0; i < reported.size(); ++i) {
    INFO("report " << i << ": from offset " << reported[i].first_ready);
    CHECK(reported[i].first_ready == expected[i]);
    const std::span<const float> final_tail = model.grads().subspan(reported[i].first_ready);
    REQUIRE(tails[i].size() == final_tail.size());
    CHECK(std::memcmp(tails[i].data(), final_tail.data(), tails[i].size() * sizeof(float)) == 0);
    // wte (offset 0) is named in every report before the last (which covers it anyway).
    const bool last = i + 1 == reported.size();
    CHECK(reported[i].table_rows == (last ? 0 : V));
    if (last) continue;
    CHECK(reported[i].table == 0);
    CHECK(reported[i].row_floats == C);
    size_t rows_final = 0, input_rows_changed = 0;
    for (size_t row = 0; row < V; ++row) {
      const bool same =
          std::memcmp(tables[i].data() + row * C, model.grads().data() + row * C, C * sizeof(float)) == 0;
      if (!input_row[row]) rows_final += same ? 1 : 0;
      if (input_row[row]) input_rows_changed += same ? 0 : 1;
    }
    size_t other_rows = 0;
    for (size_t row = 0; row < V; ++row) other_rows += input_row[row] ? 0 : 1;
    CHECK(rows_final == other_rows);
    CHECK(input_rows_changed > 0);  // the exception is real: the embedding's backward adds to them
  }
  // Turned off, nothing is reported.
  model.set_grad_ready_callback({});
  reported.clear();
  model.backward();
  CHECK(reported.empty());
}

TEST_CASE("05 model: bad inputs give clear errors", "[model]") {
  gpt2::CpuBackend cpu;
  GPT2 model(GPT2Config::make(1, 2, 16, 8, 10), cpu);
  std::vector<int> tokens(16, 3), targets(16, 4);
  CHECK_THROWS_WITH(model.backward(), "backward(): needs a forward() with targets first");
  CHECK_THROWS_WITH(model.forward(tokens.data(), targets.data(), 1, 16),
                    "forward: sequence length T must be in [1, 8] (the model's context), got 16");
  tokens[5] = 10;
  CHECK_THROWS_WITH(model.forward(tokens.data(), targets.data(), 2, 8),
                    "forward: tokens: token id 10 at index 5 is outside the vocabulary [0, 10)");
  tokens[5] = 1;
  targets[7] = -2;
  CHECK_THROWS_WITH(model.forward(tokens.data(), targets.data(), 2, 8),
                    "forward: target -2 at index 7 is neither in the vocabulary [0, 10) nor -1 (ignore)");
  std::fill(targets.begin(), targets.end(), -1);
  CHECK_THROWS_WITH(model.forward(tokens.data(), targets.data(), 2, 8),
                    "forward: every target is -1, there is no loss to compute");
  model.forward(tokens.data(), nullptr, 2, 8);
  CHECK_THROWS_WITH(model.backward(), "backward(): needs a forward() with targets first");
}

namespace {
// A backend whose memory the model must treat as a device's: the operations are CpuBackend's,
// but host_memory() is false, so the model may only move data with copy_to_device/copy_to_host,
// as it must for chapter 09's GPU. The bytes moved are counted (sum() returns one double, which a
// device has to copy back).
class PretendDeviceBackend : public gpt2::CpuBackend {
 public:
  bool host_memory() const override { return false; }
  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    to_device += bytes;
    CpuBackend::copy_to_device(dst, src, bytes);
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    to_host += bytes;
    CpuBackend::copy_to_host(dst, src, bytes);
  }
  double sum(const float* x, size_t n) override {
    to_host += sizeof(double);
    return CpuBackend::sum(x, n);
  }
  size_t to_device = 0, to_host = 0;
};
}  // namespace

TEST_CASE("05 model: a backend with its own memory gives the same numbers", "[model][backend]") {
  Fixture fx;
  gpt2::CpuBackend cpu;
  PretendDeviceBackend device;
  GPT2 a = GPT2::load(tiny_dir(), cpu), b = GPT2::load(tiny_dir(), device);
  a.set_mode(GPT2::Mode::training);
  b.set_mode(GPT2::Mode::training);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  for (int round = 0; round < 2; ++round) {
    CHECK(a.forward(tokens.data(), targets.data(), kB, kT) ==
          b.forward(tokens.data(), targets.data(), kB, kT));
    auto la = a.logits(), lb = b.logits();
    CHECK(std::memcmp(la.data(), lb.data(), la.size() * 4) == 0);
    a.zero_grad();
    b.zero_grad();
    a.backward();
    b.backward();
    CHECK(a.grads_to_host().to_vector() == b.grads_to_host().to_vector());
    // New weights, as an optimizer step would make them: the next forward must see them.
    for (GPT2* m : {&a, &b}) {
      gpt2::Tensor p = m->params_to_host();
      for (float& x : p.span()) x *= 0.9f;
      m->set_params(p.span());
    }
  }
}

TEST_CASE("05 model: a training step moves only token ids and the loss; a decode step a token and its logits",
          "[model][backend]") {
  Fixture fx;
  PretendDeviceBackend device;
  GPT2 model = GPT2::load(tiny_dir(), device);
  const size_t loaded = device.to_device;
  CHECK(loaded == static_cast<size_t>(model.num_parameters()) * 4);  // the weights, uploaded once
  model.set_mode(GPT2::Mode::training);
  std::vector<int> tokens = fx.ints("tokens"), targets = fx.ints("targets");
  const size_t ids = tokens.size() * sizeof(int);
  for (int step = 0; step < 3; ++step) {
    device.to_device = device.to_host = 0;
    model.forward(tokens.data(), targets.data(), kB, kT);
    model.zero_grad();
    model.backward();
    INFO("step " << step);
    CHECK(device.to_device == 2 * ids);       // tokens and targets
    CHECK(device.to_host == sizeof(double));  // the sum of the losses
  }
  // Generation: the prompt, then one token per step; back come its logits, nothing else.
  model.set_mode(GPT2::Mode::inference);
  gpt2::KVCache cache(model.config(), device);
  model.forward(cache, tokens.data(), 1, 8);
  const size_t V = static_cast<size_t>(model.config().vocab_size);
  for (int step = 0; step < 3; ++step) {
    device.to_device = device.to_host = 0;
    model.forward(cache, &tokens[static_cast<size_t>(8 + step)], 1, 1);
    CHECK(device.to_device == sizeof(int));
    CHECK(device.to_host == V * sizeof(float));
  }
}
