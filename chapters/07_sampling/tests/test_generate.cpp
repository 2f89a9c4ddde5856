// The KV-cache forward pass and generate() against the PyTorch reference (tests/reference/07_generate.py).
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
// below the 1e-5 relative the test allows.
TEST_CASE("cached logits equal the reference, prefilled at once or token by token", "[generate]") {
  TinyModel m;
  const auto ref = reference();
  std::vector<int> tokens = ids(ref, "prompt_short");
  const std::vector<int> continuation = ids(ref, "greedy_short");
  tokens.insert(tokens.end(), continuation.begin(), continuation.end());
  const std::vector<float> expected = ref.get_vector("logits_short");  // (15, V)
  const int V = m.config.vocab_size;
  REQUIRE(expected.size() == tokens.size() * V);

  SECTION("one prefill of all positions") {
    gpt2::CachedGPT2 cached(m.model);
    auto logits = cached.forward(tokens, /*all_logits=*/true);
    std::vector<float> ours(logits.begin(), logits.end());
    auto r = gpt2::rel_close(ours, expected, 1e-5, "logits, one prefill");
    INFO(r.message);
    CHECK(r.ok);
    CHECK(cached.size() == static_cast<int>(tokens.size()));
  }
  SECTION("chunks of 5, 1, 3, 1, 1, 4 positions: every position's logits") {
    gpt2::CachedGPT2 cached(m.model);
    std::vector<float> ours;
    size_t begin = 0;
    for (size_t chunk : {5, 1, 3, 1, 1, 4}) {
      auto logits = cached.forward(std::span<const int>(tokens).subspan(begin, chunk), true);
      ours.insert(ours.end(), logits.begin(), logits.end());
      begin += chunk;
    }
    REQUIRE(begin == tokens.size());
    auto r = gpt2::rel_close(ours, expected, 1e-5, "logits, chunked");
    INFO(r.message);
    CHECK(r.ok);
  }
  SECTION("without all_logits: the last position only, at several positions, both decode kernels") {
    const bool matvec = GENERATE(true, false);
    gpt2::CachedGPT2 cached(m.model);
    cached.set_matvec(matvec);
    INFO("matvec " << matvec);
    cached.forward(std::span<const int>(tokens).first(5));
    for (size_t t = 5; t < tokens.size(); ++t) {
      const int one[1] = {tokens[t]};
      auto logits = cached.forward(one);
      std::vector<float> row(expected.begin() + t * V, expected.begin() + (t + 1) * V);
      auto r = gpt2::rel_close(std::vector<float>(logits.begin(), logits.end()), row, 1e-5, "logits");
      INFO("position " << t << ": " << r.message);
      CHECK(r.ok);
    }
  }
}

TEST_CASE("cached logits equal chapter 05's full recompute at every position", "[generate]") {
  // A model from chapter 05's own initialisation, wider and longer than the fixture's; its
  // forward() recomputes every position from scratch. Both run the same float32 ops in a
  // different grouping (n rows at a time vs all T), so they agree to rounding: far below 1e-5.
  gpt2::CpuBackend cpu;
  gpt2::GPT2 model(gpt2::GPT2Config::make(2, 4, 64, 48, 101), cpu);
  model.init_random(3);
  gpt2::Rng rng(9);
  std::vector<int> tokens(40);
  for (int& t : tokens) t = static_cast<int>(rng.below(101));
  model.forward(tokens.data(), nullptr, 1, 40);
  const std::vector<float> full(model.logits().begin(), model.logits().end());  // (40, V)

  const bool matvec = GENERATE(true, false);  // matvec.h's kernels or the backend's, for one token
  INFO("matvec " << matvec);
  gpt2::CachedGPT2 cached(model);
  cached.set_matvec(matvec);
  cached.forward(std::span<const int>(tokens).first(8));  // prefill 8, then one token at a time
  for (int t = 8; t < 40; ++t) {
    const int one[1] = {tokens[t]};
    auto logits = cached.forward(one);
    if (t % 8 != 7 && t != 8) continue;  // check several positions: 8, 15, 23, 31, 39
    std::vector<float> row(full.begin() + t * 101, full.begin() + (t + 1) * 101);
    auto r = gpt2::rel_close(std::vector<float>(logits.begin(), logits.end()), row, 1e-5, "logits");
    INFO("position " << t << ": " << r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("greedy generation equals PyTorch token for token", "[generate]") {
  TinyModel m;
  const auto ref = reference();
  gpt2::CachedGPT2 cached(m.model);
  gpt2::GenerateOptions options{.max_new_tokens = 10, .greedy = true};
  std::vector<int> streamed;
  const auto g =
      gpt2::generate(cached, ids(ref, "prompt_short"), options, [&](int t) { streamed.push_back(t); });
  CHECK(g.tokens == ids(ref, "greedy_short"));
  CHECK(streamed == g.tokens);  // the callback saw every token, in order
  CHECK(g.window_shifts == 0);
  CHECK(g.decode_steps == 9);  // the 10th token's logits are never needed
  CHECK_FALSE(g.stopped_at_eot);

  SECTION("past the context, with the sliding window") {
    options.max_new_tokens = 30;
    const auto w = gpt2::generate(cached, ids(ref, "prompt_window"), options);
    CHECK(w.tokens == ids(ref, "greedy_window"));
    CHECK(w.window_shifts > 0);
  }
  SECTION("generate() on the GPT2 itself gives the same tokens") {
    CHECK(gpt2::generate(m.model, ids(ref, "prompt_short"), options).tokens == g.tokens);
  }
  SECTION("the model object is reusable: the same prompt gives the same tokens again") {
    CHECK(gpt2::generate(cached, ids(ref, "prompt_short"), options).tokens == g.tokens);
  }
}

TEST_CASE("generation stops at the end-of-text token when asked", "[generate]") {
  TinyModel m;
  const auto ref = reference();
  const std::vector<int> expected = ids(ref, "greedy_short");  // 55, 22, 10, 73, ...
  gpt2::CachedGPT2 cached(m.model);
  // Pretend token expected[3] is <|endoftext|> (the tiny vocabulary has no 50256).
  gpt2::GenerateOptions options{.max_new_tokens = 10, .greedy = true, .eot_token = expected[3]};
  const auto g = gpt2::generate(cached, ids(ref, "prompt_short"), options);
  CHECK(g.stopped_at_eot);
  CHECK(g.tokens == std::vector<int>(expected.begin(), expected.begin() + 3));  // the EOT is not included
  options.stop_at_eot = false;
  CHECK(gpt2::generate(cached, ids(ref, "prompt_short"), options).tokens == expected);
  options.max_new_tokens = 0;
  CHECK(gpt2::generate(cached, ids(ref, "prompt_short"), options).tokens.empty());
}

TEST_CASE("sampled generation is reproducible from its seed", "[generate]") {
  TinyModel m;
  gpt2::CachedGPT2 cached(m.model);
  const std::vector<int> prompt = {1, 2, 3};
  gpt2::GenerateOptions options{
      .max_new_tokens = 12, .temperature = 1.5f, .top_k = 20, .top_p = 0.95f, .seed = 42};
  const auto a = gpt2::generate(cached, prompt, options);
  const auto b = gpt2::generate(cached, prompt, options);
  options.seed = 43;
  const auto c = gpt2::generate(cached, prompt, options);
  CHECK(a.tokens == b.tokens);
  CHECK(a.tokens != c.tokens);
  // top_k = 1 leaves one candidate: sampling it is greedy decoding.
  gpt2::GenerateOptions k1{.max_new_tokens = 12, .top_k = 1};
  gpt2::GenerateOptions greedy{.max_new_tokens = 12, .greedy = true};
  CHECK(gpt2::generate(cached, prompt, k1).tokens == gpt2::generate(cached, prompt, greedy).tokens);
}

TEST_CASE("bad prompts and a full cache are clear errors", "[generate]") {
  TinyModel m;
  gpt2::CachedGPT2 cached(m.model);
  const gpt2::GenerateOptions options{.max_new_tokens = 3};
  auto message = [&](const std::vector<int>& prompt, const gpt2::GenerateOptions& o) {
    try {
      gpt2::generate(cached, prompt, o);
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
  cached.reset();
  cached.forward(std::vector<int>(10, 1));
  CHECK_THROWS_WITH(cached.forward(std::vector<int>(7, 1)), Catch::Contains("exceed the context of 16"));
}
