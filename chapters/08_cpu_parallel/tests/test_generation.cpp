// Chapter 08: generation on FastCpuBackend. The attention over the KV cache against the fast
// attention over the whole sequence; the cached forward pass against the full one; greedy
// generation against PyTorch (tests/reference/07_generate.py), also past the context; and the
// same bits for 1 and 2 threads.
#include <cmath>
#include <vector>

#include "chapters/05_gpt2_model/gpt2.h"
#include "chapters/05_gpt2_model/kv_cache.h"
#include "chapters/07_sampling/generate.h"
#include "chapters/08_cpu_parallel/attention_cached_fast.h"
#include "chapters/08_cpu_parallel/attention_fast.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "common/rng.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {

using ch08_test::levels;
using ch08_test::random_vector;
using ch08_test::same_bits;
using ch08_test::with;

std::vector<int> ids(const gpt2::SafetensorsFile& f, const std::string& name) {
  std::vector<int> out;
  for (int64_t x : f.get_int(name)) out.push_back(static_cast<int>(x));
  return out;
}

std::vector<int> random_tokens(int n, int V, uint64_t seed) {
  gpt2::Rng rng(seed);
  std::vector<int> t(static_cast<size_t>(n));
  for (int& x : t) x = static_cast<int>(rng.below(static_cast<uint64_t>(V)));
  return t;
}

}  // namespace

TEST_CASE("fast attention over a KV cache gives the bits of the fast attention over the whole sequence",
          "[ch08][attention][kv_cache]") {
  // Both score a row with dots(), take the same softmax and add the values with
  // add_weighted_rows(), which depend only on the row's length: the same bits.
  struct Dims {
    int B, L, C, NH, prefill;
  };
  const Dims dims[] = {{1, 9, 8, 2, 1}, {2, 17, 48, 4, 5}, {1, 40, 40, 2, 39}, {2, 70, 768, 12, 64}};
  for (const Dims& d : dims) {
    const int maxT = d.L + 3;  // the cache has room to spare
    const size_t n = static_cast<size_t>(d.B) * d.L * d.C;
    const auto qkv = random_vector(3 * n, 50, -2.0f, 2.0f);  // (B, L, 3C)
    for (gpt2::Simd level : levels()) {
      for (int threads : {1, 2}) {
        std::vector<float> full(n), qkvh(3 * n), att(static_cast<size_t>(d.B) * d.NH * d.L * d.L);
        std::vector<float> cached(n, NAN), k_cache(static_cast<size_t>(d.B) * maxT * d.C, NAN),
            v_cache(k_cache.size(), NAN);
        with(threads, level, [&] {
          gpt2::multihead_attention_forward_fast(full.data(), qkvh.data(), att.data(), qkv.data(), d.B, d.L,
                                                 d.C, d.NH);
          // The prefill, then one position at a time: the rows of position t of every sequence.
          auto run = [&](int pos0, int T) {
            std::vector<float> in(static_cast<size_t>(d.B) * T * 3 * d.C),
                out(static_cast<size_t>(d.B) * T * d.C);
            for (int b = 0; b < d.B; ++b)
              std::copy_n(qkv.begin() + (static_cast<ptrdiff_t>(b) * d.L + pos0) * 3 * d.C, T * 3 * d.C,
                          in.begin() + static_cast<ptrdiff_t>(b) * T * 3 * d.C);
            gpt2::attention_forward_cached_fast(out.data(), k_cache.data(), v_cache.data(), in.data(), d.B, T,
                                                pos0, maxT, d.C, d.NH);
            for (int b = 0; b < d.B; ++b)
              std::copy_n(out.begin() + static_cast<ptrdiff_t>(b) * T * d.C, T * d.C,
                          cached.begin() + (static_cast<ptrdiff_t>(b) * d.L + pos0) * d.C);
          };
          run(0, d.prefill);
          for (int t = d.prefill; t < d.L; ++t) run(t, 1);
        });
        INFO("B=" << d.B << " L=" << d.L << " C=" << d.C << " prefill " << d.prefill << " "
                  << gpt2::simd_name(level) << " threads=" << threads);
        CHECK(same_bits(cached, full));
      }
    }
  }
}

TEST_CASE("08 KV cache: prefill + one token at a time gives the full forward's logits", "[ch08][kv_cache]") {
  // The full pass multiplies T rows with gemm, a cached step one row with matvec.h: the same
  // products summed in another order, so the logits agree to float rounding (1e-5 relative, the
  // tolerance of chapter 05's parity tests), not bit for bit.
  gpt2::FastCpuBackend fast;
  gpt2::GPT2 model(gpt2::GPT2Config::make(2, 4, 64, 48, 101), fast);
  model.init_random(3);
  const int V = 101, n = 48;
  const std::vector<int> tokens = random_tokens(n, V, 9);
  model.forward(tokens.data(), nullptr, 1, n);
  const std::vector<float> full(model.logits().begin(), model.logits().end());
  for (int prompt : {1, 8, 31, 48}) {
    gpt2::KVCache cache(model.config(), fast);
    std::vector<float> ours;
    auto logits = model.forward(cache, tokens.data(), 1, prompt, /*all_logits=*/true);
    ours.assign(logits.begin(), logits.end());
    for (int t = prompt; t < n; ++t) {
      logits = model.forward(cache, &tokens[static_cast<size_t>(t)], 1, 1);
      ours.insert(ours.end(), logits.begin(), logits.end());
    }
    auto r = gpt2::rel_close(ours, full, 1e-5, "cached logits");
    INFO("prompt of " << prompt << ": " << r.message);
    CHECK(r.ok);
  }
}

TEST_CASE("08 greedy generation on the fast kernels equals PyTorch token for token",
          "[ch08][generate][parity]") {
  gpt2::FastCpuBackend fast;
  gpt2::GPT2 model = gpt2::GPT2::load(gpt2::fixture_dir() + "/07_tiny_model", fast);
  const auto ref = gpt2::SafetensorsFile::open(gpt2::fixture_dir() + "/07_generate.safetensors");
  gpt2::GenerateOptions options{.max_new_tokens = 10, .greedy = true};
  CHECK(gpt2::generate(model, ids(ref, "prompt_short"), options).tokens == ids(ref, "greedy_short"));
  options.max_new_tokens = 30;  // past the 16-position context: the sliding window
  const gpt2::Generation w = gpt2::generate(model, ids(ref, "prompt_window"), options);
  CHECK(w.tokens == ids(ref, "greedy_window"));
  CHECK(w.window_shifts > 0);
}

TEST_CASE("08 generation gives the same bits with 1 and 2 threads", "[ch08][generate][determinism]") {
  const gpt2::GPT2Config config = gpt2::GPT2Config::make(2, 4, 64, 600, 1000);
  const std::vector<int> prompt = random_tokens(300, 1000, 4);  // long enough for threaded attention
  for (gpt2::Simd level : levels()) {
    std::vector<float> logits[2];
    for (int threads : {1, 2}) {
      with(threads, level, [&] {
        gpt2::FastCpuBackend fast;
        gpt2::GPT2 model(config, fast);
        model.init_random(8);
        gpt2::KVCache cache(config, fast);
        auto l = model.forward(cache, prompt.data(), 1, 300);
        logits[threads - 1].assign(l.begin(), l.end());
        for (int step = 0; step < 4; ++step) {
          const int next = (step * 97 + 5) % 1000;
          l = model.forward(cache, &next, 1, 1);
          logits[threads - 1].insert(logits[threads - 1].end(), l.begin(), l.end());
        }
      });
    }
    INFO(gpt2::simd_name(level));
    CHECK(same_bits(logits[0], logits[1]));
  }
}
