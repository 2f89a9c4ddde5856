// Chapter 05: the one forward pass with a KV cache (prefill + one token at a time) against the
// same forward pass over the whole sequence, the modes, and the gradient entry point for heads
// other than the language model's.
//
// The plain backend computes every row of every op independently and the cached attention in
// chapter 03's order of operations, so with CpuBackend a cached step gives the SAME bits as the
// full forward pass: the checks here are exact. (Chapter 08 runs the same checks on its fast
// backend, whose one-row products add in another order, with a tolerance.)
#include <cstring>
#include <vector>

#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/lm_head.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/testing.h"
#include "tests/catch.h"

using gpt2::GPT2;
using gpt2::GPT2Config;

namespace {

// 2 layers, 4 heads of 8, a context of 24, 61 tokens.
GPT2Config small() {
  return GPT2Config::make(2, 4, 32, 24, 61);
}

std::vector<int> random_tokens(int n, int V, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<int> t(static_cast<size_t>(n));
  for (int& x : t) x = static_cast<int>(rng.below(static_cast<uint64_t>(V)));
  return t;
}

std::vector<float> row(std::span<const float> all, size_t r, size_t V) {
  return {all.begin() + static_cast<std::ptrdiff_t>(r * V),
          all.begin() + static_cast<std::ptrdiff_t>((r + 1) * V)};
}

}  // namespace

TEST_CASE("05 KV cache: prefill + one token at a time gives the full forward's logits, bit for bit",
          "[model][kv_cache]") {
  gpt2::CpuBackend cpu;
  GPT2 model(small(), cpu);
  model.init_random(11);
  const int V = 61, n = 24;
  const std::vector<int> tokens = random_tokens(n, V, 5);
  model.forward(tokens.data(), nullptr, 1, n);  // every position recomputed from scratch
  const std::vector<float> full(model.logits().begin(), model.logits().end());

  for (int prompt : {1, 2, 7, 23, 24}) {
    INFO("prompt of " << prompt << " tokens");
    gpt2::KVCache cache(model.config(), cpu);
    std::span<const float> logits = model.forward(cache, tokens.data(), 1, prompt);
    REQUIRE(logits.size() == static_cast<size_t>(V));
    CHECK(std::vector<float>(logits.begin(), logits.end()) == row(full, static_cast<size_t>(prompt - 1), V));
    CHECK(cache.size() == prompt);
    for (int t = prompt; t < n; ++t) {
      logits = model.forward(cache, &tokens[static_cast<size_t>(t)], 1, 1);
      INFO("position " << t);
      CHECK(std::vector<float>(logits.begin(), logits.end()) == row(full, static_cast<size_t>(t), V));
    }
    CHECK(cache.size() == n);
  }
  SECTION("all_logits: every new position, in chunks") {
    gpt2::KVCache cache(model.config(), cpu);
    std::vector<float> ours;
    int begin = 0;
    for (int chunk : {5, 1, 3, 1, 14}) {
      auto logits = model.forward(cache, tokens.data() + begin, 1, chunk, /*all_logits=*/true);
      ours.insert(ours.end(), logits.begin(), logits.end());
      begin += chunk;
    }
    CHECK(ours == full);
  }
  SECTION("truncate: a shared prefix, then another continuation") {
    gpt2::KVCache cache(model.config(), cpu);
    model.forward(cache, tokens.data(), 1, 10);
    cache.truncate(6);
    auto logits = model.forward(cache, tokens.data() + 6, 1, 4, true);
    CHECK(std::vector<float>(logits.begin(), logits.end()) ==
          std::vector<float>(full.begin() + 6 * V, full.begin() + 10 * V));
  }
}

TEST_CASE("05 KV cache: B sequences at once give each sequence's own logits", "[model][kv_cache]") {
  gpt2::CpuBackend cpu;
  GPT2 model(small(), cpu);
  model.init_random(12);
  const int V = 61, B = 3, T = 9;
  const std::vector<int> tokens = random_tokens(B * T, V, 6);  // (B, T)
  model.forward(tokens.data(), nullptr, B, T);
  const std::vector<float> full(model.logits().begin(), model.logits().end());  // (B, T, V)
  gpt2::KVCache cache(model.config(), cpu, B);
  // Prefill the first 5 positions of every sequence, then 4 single steps (one token per sequence).
  std::vector<int> prompt, step(B);
  for (int b = 0; b < B; ++b) prompt.insert(prompt.end(), &tokens[b * T], &tokens[b * T + 5]);
  auto logits = model.forward(cache, prompt.data(), B, 5);
  for (int b = 0; b < B; ++b) CHECK(row(logits, b, V) == row(full, static_cast<size_t>(b * T + 4), V));
  for (int t = 5; t < T; ++t) {
    for (int b = 0; b < B; ++b) step[static_cast<size_t>(b)] = tokens[static_cast<size_t>(b * T + t)];
    logits = model.forward(cache, step.data(), B, 1);
    for (int b = 0; b < B; ++b) {
      INFO("sequence " << b << ", position " << t);
      CHECK(row(logits, b, V) == row(full, static_cast<size_t>(b * T + t), V));
    }
  }
}

TEST_CASE("05 modes: inference shares one block's buffers, computes the same logits, allocates no gradients",
          "[model][modes]") {
  gpt2::CpuBackend cpu;
  GPT2 model(small(), cpu);
  model.init_random(13);
  const std::vector<int> tokens = random_tokens(2 * 16, 61, 7), targets = random_tokens(2 * 16, 61, 8);
  CHECK(model.mode() == GPT2::Mode::inference);
  CHECK(model.grads().empty());
  const float loss = model.forward(tokens.data(), targets.data(), 2, 16);
  const std::vector<float> logits(model.logits().begin(), model.logits().end());
  CHECK(model.activations().blocks[0].out == model.activations().blocks[1].out);
  CHECK_THROWS_WITH(model.zero_grad(), Catch::Contains("set_mode(GPT2::Mode::training)"));

  model.set_mode(GPT2::Mode::inspect);
  CHECK(model.forward(tokens.data(), targets.data(), 2, 16) == loss);
  CHECK(std::vector<float>(model.logits().begin(), model.logits().end()) == logits);
  CHECK(model.activations().blocks[0].out != model.activations().blocks[1].out);
  CHECK(model.grads().empty());
  CHECK_THROWS_WITH(model.backward(), Catch::Contains("outside training mode"));

  model.set_mode(GPT2::Mode::training);
  CHECK(model.grads().size() == static_cast<size_t>(model.num_parameters()));
  CHECK(model.forward(tokens.data(), targets.data(), 2, 16) == loss);
  model.zero_grad();
  model.backward();
}

TEST_CASE("05 backward_from_hidden: the gradient of another head's loss, added", "[model][backward]") {
  // backward() = the tied head's share of d wte, then backward_from_hidden(d hidden). So a model
  // given d hidden computed by hand (chapter 05's plain cross-entropy and head backward) must end
  // with the same gradient in every tensor but wte (whose head share it was not given), and twice
  // that after a second call.
  gpt2::CpuBackend cpu;
  GPT2 a(small(), cpu), b(small(), cpu);
  a.init_random(14);
  b.init_random(14);
  a.set_mode(GPT2::Mode::training);
  b.set_mode(GPT2::Mode::training);
  const int B = 2, T = 12, BT = B * T, C = 32, V = 61;
  const std::vector<int> tokens = random_tokens(BT, V, 9), targets = random_tokens(BT, V, 10);
  a.forward(tokens.data(), targets.data(), B, T);
  a.zero_grad();
  a.backward();
  b.forward(tokens.data(), nullptr, B, T);  // no targets: the loss is someone else's
  const gpt2::Activations& x = b.activations();
  std::vector<float> dlogits(static_cast<size_t>(BT) * V, 0.0f), dhidden(static_cast<size_t>(BT) * C, 0.0f);
  std::vector<float> losses(BT), lse(BT);
  gpt2::cross_entropy_forward(losses.data(), lse.data(), x.logits, targets.data(), BT, V);
  gpt2::cross_entropy_backward(dlogits.data(), x.logits, lse.data(), targets.data(), 1.0f / BT, BT, V);
  gpt2::lm_head_backward<float>(dhidden.data(), nullptr, dlogits.data(), x.lnf, b.params().data(), BT, C, V);
  b.zero_grad();
  b.backward_from_hidden(dhidden.data());
  for (const gpt2::ParamSpec& s : a.layout().specs()) {
    if (s.name == "wte.weight") continue;
    INFO(s.name);
    CHECK(b.grad(s.name).to_vector() == a.grad(s.name).to_vector());
  }
  // A second call adds the same again: twice the gradient, up to the rounding of the running sums
  // (as for backward(), chapter 05's test_model.cpp).
  std::vector<float> doubled = b.grads_to_host().to_vector();
  for (float& g : doubled) g *= 2;
  b.backward_from_hidden(dhidden.data());
  auto r = gpt2::rel_close(b.grads(), doubled, 1e-6, "gradient after two backward_from_hidden()");
  INFO(r.message);
  CHECK(r.ok);
}

TEST_CASE("05 KV cache: mistakes are clear errors and change nothing", "[model][kv_cache]") {
  gpt2::CpuBackend cpu;
  GPT2 model(small(), cpu);
  gpt2::KVCache cache(model.config(), cpu, 1, 10);
  CHECK(cache.capacity() == 10);
  CHECK(gpt2::KVCache(model.config(), cpu, 1, 1000).capacity() == 24);  // never past the context
  CHECK(cache.bytes() == static_cast<size_t>(gpt2::kv_cache_bytes(model.config(), 1, 10)));
  CHECK(cache.bytes() == 2 * 2 * 10 * 32 * sizeof(float));
  std::vector<int> tokens(12, 3);
  model.forward(cache, tokens.data(), 1, 8);
  CHECK_THROWS_WITH(model.forward(cache, tokens.data(), 1, 3),
                    "forward: 8 cached + 3 new positions exceed the context of 10 positions");
  CHECK(cache.size() == 8);
  tokens[0] = 61;
  CHECK_THROWS_WITH(model.forward(cache, tokens.data(), 1, 1), Catch::Contains("token id 61"));
  CHECK(cache.size() == 8);
  CHECK_THROWS_WITH(model.forward(cache, tokens.data(), 2, 1),
                    "forward: the KV cache holds 1 sequence(s), got B=2");
  CHECK_THROWS_WITH(cache.truncate(9), "KVCache::truncate: the cache holds 8 positions, cannot keep 9");
  GPT2 other(GPT2Config::make(3, 4, 32, 24, 61), cpu);
  CHECK_THROWS_WITH(other.forward(cache, tokens.data() + 1, 1, 1), Catch::Contains("made for another model"));
  CHECK_THROWS_WITH(gpt2::KVCache(model.config(), cpu, 0), "KVCache: the batch must be > 0 sequences, got 0");
  gpt2::CpuBackend another;
  gpt2::KVCache elsewhere(model.config(), another);
  CHECK_THROWS_WITH(model.forward(elsewhere, tokens.data() + 1, 1, 1),
                    Catch::Contains("the KV cache is in the memory of backend"));
}
