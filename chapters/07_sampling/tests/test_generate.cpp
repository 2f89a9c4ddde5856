// The forward pass with a KV cache and generate() against the PyTorch reference
// (tests/reference/07_generate.py), and the sliding window against full forward passes.
#include <string>
#include <vector>

#include "chapters/07_sampling/generate.h"
#include "common/error.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {

// The tiny model of the fixture (2 layers, 4 heads, 32 channels, context 16, 97 tokens), loaded
// with chapter 05's checkpoint reader.
struct TinyModel {
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model = gpt2::GPT2::load(gpt2::fixture_dir() + "/07_tiny_model", cpu);
  const gpt2::GPT2Config& config = model.config();
};

std::vector<int> ids(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int> out;
  for (int64_t x : f.get_int(name)) out.push_back(static_cast<int>(x));
  return out;
}

gpt2::SafetensorsFile reference() {
  return gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/07_generate.safetensors");
}

}  // namespace

// Tolerance: the reference computes in float64 from the same float32 weights; our float32 forward
// through 2 layers of width 32 accumulates rounding of a few ulps per op (relative ~1e-7 each), far
// below the 1e-5 relative the course's parity tests allow.
TEST_CASE("cached logits equal the reference, prefilled at once or token by token", "[generate]") {
  TinyModel m;
  const auto ref = reference();
  std::vector<int> tokens = ids(ref, "prompt_short");
  const std::vector<int> continuation = ids(ref, "greedy_short");
  tokens.insert(tokens.end(), continuation.begin(), continuation.end());
  const std::vector<float> expected = ref.get_vector("logits_short");  // (15, V)
  const int V = m.config.vocab_size, n = static_cast<int>(tokens.size());
  REQUIRE(expected.size() == tokens.size() * V);
  gpt2::KVCache cache(m.config, m.cpu);

  SECTION("one prefill of all positions") {
    auto logits = m.model.forward(cache, tokens.data(), 1, n, /*all_logits=*/true);
    std::vector<float> ours(logits.begin(), logits.end());
    auto r = gpt2::rel_close(ours, expected, 1e-5, "logits, one prefill");
    INFO(r.message);
    CHECK(r.ok);
    CHECK(cache.size() == n);
  }
  SECTION("chunks of 5, 1, 3, 1, 1, 4 positions: every position's logits") {
    std::vector<float> ours;
    int begin = 0;
    for (int chunk : {5, 1, 3, 1, 1, 4}) {
      auto logits = m.model.forward(cache, tokens.data() + begin, 1, chunk, true);
      ours.insert(ours.end(), logits.begin(), logits.end());
      begin += chunk;
    }
    REQUIRE(begin == n);
    auto r = gpt2::rel_close(ours, expected, 1e-5, "logits, chunked");
    INFO(r.message);
    CHECK(r.ok);
  }
  SECTION("without all_logits: the last position only, one token at a time") {
    m.model.forward(cache, tokens.data(), 1, 5);
    for (int t = 5; t < n; ++t) {
      auto logits = m.model.forward(cache, &tokens[static_cast<size_t>(t)], 1, 1);
      std::vector<float> row(expected.begin() + t * V, expected.begin() + (t + 1) * V);
      auto r = gpt2::rel_close(std::vector<float>(logits.begin(), logits.end()), row, 1e-5, "logits");
      INFO("position " << t << ": " << r.message);
      CHECK(r.ok);
    }
  }
}

TEST_CASE("past the context, generation equals full forward passes over the sliding window", "[generate]") {
  // The window rule of generate.h, replayed without a cache: at each step the model sees the
  // tokens since the window last moved (a full forward from position 0), and the window moves
  // when it holds `capacity` tokens, keeping the last capacity / 2. The plain backend computes
  // a cached step with the same bits as a full pass, so the greedy tokens must agree exactly.
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model(gpt2::GPT2Config::make(2, 4, 32, 16, 97), cpu);
  model.init_random(21);
  const int capacity = 16;
  for (int prompt_len : {1, 5, 16}) {
    INFO("prompt of " << prompt_len);
    std::vector<int> prompt;
    for (int i = 0; i < prompt_len; ++i) prompt.push_back((7 * i + 3) % 97);
    const gpt2::GenerateOptions options{.max_new_tokens = 40, .greedy = true, .stop_at_eot = false};
    const gpt2::Generation g = gpt2::generate(model, prompt, options);
    CHECK(g.window_shifts > 0);

    std::vector<int> text = prompt;
    size_t start = 0;  // the window is text[start:]
    std::vector<int> expected;
    for (int step = 0; step < options.max_new_tokens; ++step) {
      const int T = static_cast<int>(text.size() - start);
      model.forward(text.data() + start, nullptr, 1, T);
      const int next = gpt2::argmax(model.logits().last(97));
      expected.push_back(next);
      text.push_back(next);
      if (T == capacity) start = text.size() - capacity / 2;  // the cache was full: slide
    }
    CHECK(g.tokens == expected);
  }
}

TEST_CASE("greedy generation equals PyTorch token for token", "[generate]") {
  TinyModel m;
  const auto ref = reference();
  gpt2::KVCache cache(m.config, m.cpu);
  gpt2::GenerateOptions options{.max_new_tokens = 10, .greedy = true};
  std::vector<int> streamed;
  std::vector<int> argmaxes;  // greedy: every token is the argmax of the logits it was drawn from
  const auto g = gpt2::generate(m.model, cache, ids(ref, "prompt_short"), options,
                                [&](int t, std::span<const float> logits) {
                                  streamed.push_back(t);
                                  argmaxes.push_back(gpt2::argmax(logits));
                                  CHECK(logits.size() == static_cast<size_t>(m.config.vocab_size));
                                  return true;
                                });
  CHECK(g.tokens == ids(ref, "greedy_short"));
  CHECK(streamed == g.tokens);  // the callback saw every token, in order
  CHECK(argmaxes == g.tokens);  // ... with the logits it came from
  CHECK(g.window_shifts == 0);
  CHECK(g.decode_steps == 9);  // the 10th token's logits are never needed
  CHECK_FALSE(g.stopped_at_eot);

  SECTION("past the context, with the sliding window") {
    options.max_new_tokens = 30;
    const auto w = gpt2::generate(m.model, cache, ids(ref, "prompt_window"), options);
    CHECK(w.tokens == ids(ref, "greedy_window"));
    CHECK(w.window_shifts > 0);
  }
  SECTION("generate() with a cache of its own gives the same tokens") {
    CHECK(gpt2::generate(m.model, ids(ref, "prompt_short"), options).tokens == g.tokens);
  }
  SECTION("the model object is reusable: the same prompt gives the same tokens again") {
    CHECK(gpt2::generate(m.model, cache, ids(ref, "prompt_short"), options).tokens == g.tokens);
  }
}

TEST_CASE("generation continues a cache: only the new tokens are prefilled; the callback can stop it",
          "[generate]") {
  TinyModel m;
  const auto ref = reference();
  const std::vector<int> prompt = ids(ref, "prompt_short"), expected = ids(ref, "greedy_short");
  gpt2::KVCache cache(m.config, m.cpu);
  gpt2::GenerateOptions options{.max_new_tokens = 10, .greedy = true, .stop_at_eot = false};
  // The callback stops after 4 tokens: the fourth is in the result but not in the cache.
  int seen = 0;
  const auto first = gpt2::generate(m.model, cache, prompt, options,
                                    [&](int, std::span<const float>) { return ++seen < 4; });
  CHECK(first.stopped_by_callback);
  CHECK(first.tokens == std::vector<int>(expected.begin(), expected.begin() + 4));
  CHECK(cache.size() == static_cast<int>(prompt.size()) + 3);
  // Continue with the fourth token as the new "prompt": one prefilled position, and the greedy
  // continuation of the whole text, as a fresh generation of 10 tokens gives it.
  options.continue_cache = true;
  options.max_new_tokens = 6;
  const auto rest = gpt2::generate(m.model, cache, std::vector<int>{first.tokens.back()}, options);
  CHECK(cache.size() == static_cast<int>(prompt.size()) + 9);
  std::vector<int> all = first.tokens;
  all.insert(all.end(), rest.tokens.begin(), rest.tokens.end());
  CHECK(all == expected);
  // A continued generation stops when the cache is full (no sliding window).
  options.continue_cache = true;
  options.max_new_tokens = 1000;
  cache.truncate(static_cast<int>(prompt.size()) - 1);
  const auto full = gpt2::generate(m.model, cache, std::vector<int>{prompt.back()}, options);
  CHECK(full.context_full);
  CHECK(cache.size() == cache.capacity());
  CHECK(full.window_shifts == 0);
  CHECK_THROWS_WITH(gpt2::generate(m.model, cache, std::vector<int>{1}, options),
                    Catch::Contains("after " + std::to_string(cache.capacity()) + " cached ones"));
}

TEST_CASE("generation stops at the end-of-text token when asked", "[generate]") {
  TinyModel m;
  const auto ref = reference();
  const std::vector<int> expected = ids(ref, "greedy_short");  // 55, 22, 10, 73, ...
  gpt2::KVCache cache(m.config, m.cpu);
  // Pretend token expected[3] is <|endoftext|> (the tiny vocabulary has no 50256).
  gpt2::GenerateOptions options{.max_new_tokens = 10, .greedy = true, .eot_token = expected[3]};
  const auto g = gpt2::generate(m.model, cache, ids(ref, "prompt_short"), options);
  CHECK(g.stopped_at_eot);
  CHECK(g.tokens == std::vector<int>(expected.begin(), expected.begin() + 3));  // the EOT is not included
  options.stop_at_eot = false;
  CHECK(gpt2::generate(m.model, cache, ids(ref, "prompt_short"), options).tokens == expected);
  options.max_new_tokens = 0;
  CHECK(gpt2::generate(m.model, cache, ids(ref, "prompt_short"), options).tokens.empty());
}

TEST_CASE("sampled generation is reproducible from its seed", "[generate]") {
  TinyModel m;
  gpt2::KVCache cache(m.config, m.cpu);
  const std::vector<int> prompt = {1, 2, 3};
  gpt2::GenerateOptions options{
      .max_new_tokens = 12, .temperature = 1.5f, .top_k = 20, .top_p = 0.95f, .seed = 42};
  const auto a = gpt2::generate(m.model, cache, prompt, options);
  const auto b = gpt2::generate(m.model, cache, prompt, options);
  options.seed = 43;
  const auto c = gpt2::generate(m.model, cache, prompt, options);
  CHECK(a.tokens == b.tokens);
  CHECK(a.tokens != c.tokens);
  // top_k = 1 leaves one candidate: sampling it is greedy decoding.
  gpt2::GenerateOptions k1{.max_new_tokens = 12, .top_k = 1};
  gpt2::GenerateOptions greedy{.max_new_tokens = 12, .greedy = true};
  CHECK(gpt2::generate(m.model, cache, prompt, k1).tokens ==
        gpt2::generate(m.model, cache, prompt, greedy).tokens);
}

TEST_CASE("bad prompts and a full cache are clear errors", "[generate]") {
  TinyModel m;
  gpt2::KVCache cache(m.config, m.cpu);
  const gpt2::GenerateOptions options{.max_new_tokens = 3};
  auto message = [&](const std::vector<int>& prompt, const gpt2::GenerateOptions& o) {
    try {
      gpt2::generate(m.model, cache, prompt, o);
    } catch (const gpt2::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(message(std::vector<int>(17, 1), options),
             Catch::Contains("prompt has 17 tokens") && Catch::Contains("context is 16"));
  CHECK_THAT(message({}, options), Catch::Contains("prompt is empty"));
  CHECK_THAT(message({1, 97}, options), Catch::Contains("token id 97"));
  CHECK_THAT(message({1}, {.max_new_tokens = -1}), Catch::Contains("max_new_tokens"));
  CHECK_THAT(message({1}, {.top_p = 2.0f}), Catch::Contains("top_p"));
  CHECK(message(std::vector<int>(16, 1), options) == "no error");  // exactly the context is fine
  // The cache itself refuses to overflow.
  cache.clear();
  const std::vector<int> ones(10, 1);
  m.model.forward(cache, ones.data(), 1, 10);
  CHECK_THROWS_WITH(m.model.forward(cache, ones.data(), 1, 7), Catch::Contains("exceed the context of 16"));
  gpt2::KVCache two(m.config, m.cpu, 2);
  CHECK_THROWS_WITH(gpt2::generate(m.model, two, std::vector<int>{1}, options),
                    Catch::Contains("must hold one sequence"));
}
