// AdamW, gradient clipping and the learning-rate schedule against PyTorch
// (tests/reference/06_adamw.py) and against values known by hand.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <vector>

#include "chapters/06_training/adamw.h"
#include "chapters/06_training/grad_clip.h"
#include "chapters/06_training/lr_schedule.h"
#include "chapters/06_training/training_ops.h"
#include "common/safetensors.h"
#include "common/testing.h"
#include "tests/catch.h"

#ifdef GPT2_HAVE_OPENMP
#include <omp.h>
#endif

using namespace gpt2;

namespace {
// The moments' memory: the host's (AdamW keeps them on the model's backend).
CpuBackend cpu;
// The fixture's four tensors in buffer order: w (4, 6), b (6), ln (5), e (3, 4).
std::vector<ParamInfo> fixture_params() {
  return {{"w", 0, {4, 6}}, {"b", 24, {6}}, {"ln", 30, {5}}, {"e", 35, {3, 4}}};
}
std::vector<float> row(const std::vector<float>& all, size_t r, size_t n) {
  return std::vector<float>(all.begin() + r * n, all.begin() + (r + 1) * n);
}
}  // namespace

TEST_CASE("decay_ranges: matrices decay, vectors do not, neighbours merge", "[adamw]") {
  auto ranges = decay_ranges(fixture_params());
  REQUIRE(ranges.size() == 3);
  CHECK((ranges[0].offset == 0 && ranges[0].size == 24 && ranges[0].decay));
  CHECK((ranges[1].offset == 24 && ranges[1].size == 11 && !ranges[1].decay));  // b and ln merged
  CHECK((ranges[2].offset == 35 && ranges[2].size == 12 && ranges[2].decay));
  CHECK_THROWS_WITH(AdamW(cpu, 50, ranges, {}), Catch::Contains("cover 47 elements, the buffer has 50"));
}

TEST_CASE("adamw_update: the first step moves each weight by about lr against its gradient's sign",
          "[adamw]") {
  // At t = 1: m̂ = g and v̂ = g², so the step is lr · g / (|g| + eps) = lr · sign(g) (for |g| >> eps),
  // after the decay p · (1 − lr · wd).
  std::vector<float> p{1.0f, -2.0f, 0.5f}, g{0.3f, -4.0f, 0.0f}, m(3, 0.0f), v(3, 0.0f);
  const float lr = 0.1f, wd = 0.5f;
  adamw_update(p.data(), g.data(), m.data(), v.data(), 3, 1, lr, 0.9f, 0.999f, 1e-8f, wd);
  CHECK(p[0] == Approx(1.0f * (1 - lr * wd) - lr).epsilon(1e-6));
  CHECK(p[1] == Approx(-2.0f * (1 - lr * wd) + lr).epsilon(1e-6));
  CHECK(p[2] == Approx(0.5f * (1 - lr * wd)).epsilon(1e-6));  // zero gradient: only the decay
  CHECK(m[1] == Approx(0.1f * -4.0f).epsilon(1e-6));          // (1 − β1) g
  CHECK(v[1] == Approx((1.0 - static_cast<double>(0.999f)) * 16.0).epsilon(1e-6));  // (1 − β2) g²
}

TEST_CASE("lr_at: warmup, cosine and floor at known points", "[schedule]") {
  LrSchedule s{1.0f, 0.1f, 4, 14};
  CHECK(lr_at(s, 0) == Approx(0.25));  // (0 + 1) / 4
  CHECK(lr_at(s, 3) == Approx(1.0));   // end of warmup: the peak
  CHECK(lr_at(s, 4) == Approx(1.0));   // cos(0) = 1
  CHECK(lr_at(s, 9) == Approx(0.55));  // half-way: (max + min) / 2
  CHECK(lr_at(s, 14) == Approx(0.1));  // the floor
  CHECK(lr_at(s, 1000) == Approx(0.1));
  for (int i = 4; i < 14; ++i) CHECK(lr_at(s, i + 1) <= lr_at(s, i));  // decreasing
  LrSchedule no_warmup{2.0f, 0.0f, 0, 10};
  CHECK(lr_at(no_warmup, 0) == Approx(2.0));
}

TEST_CASE("grad_norm and clip_grad_norm: known values", "[clip]") {
  std::vector<float> g{3.0f, 4.0f};
  CHECK(grad_norm(g.data(), 2) == 5.0);
  CHECK(clip_grad_norm(g.data(), 2, 10.0f) == 5.0f);  // under the limit: unchanged
  CHECK((g[0] == 3.0f && g[1] == 4.0f));
  CHECK(clip_grad_norm(g.data(), 2, 1.0f) == 5.0f);  // returns the norm before clipping
  CHECK(grad_norm(g.data(), 2) == Approx(1.0).epsilon(1e-6));
  CHECK(g[0] == Approx(0.6f).epsilon(1e-6));
}

TEST_CASE("grad_norm is the same bit for bit with 1 or 2 threads", "[clip][determinism]") {
  std::vector<float> g(5 * kNormChunk + 123);
  for (size_t i = 0; i < g.size(); ++i) g[i] = std::sin(0.001 * i) * (1 + (i % 7));
#ifdef GPT2_HAVE_OPENMP
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const double one = grad_norm(g.data(), g.size());
  omp_set_num_threads(2);
  const double two = grad_norm(g.data(), g.size());
  omp_set_num_threads(saved);
  CHECK(one == two);
#endif
  double ref = 0;  // a plain double sum: within rounding of the chunked one
  for (float x : g) ref += static_cast<double>(x) * x;
  CHECK(grad_norm(g.data(), g.size()) == Approx(std::sqrt(ref)).epsilon(1e-12));
}

TEST_CASE("sum_squares_chunks: the norm's partial sums, one per chunk; add_grads adds", "[clip]") {
  const size_t n = 3 * kNormChunk + 17;
  std::vector<float> g(n);
  for (size_t i = 0; i < n; ++i) g[i] = std::cos(0.01 * i) * static_cast<float>(1 + i % 5);
  std::vector<double> sums(4, -1.0);
  sum_squares_chunks(g.data(), n, sums.data());
  double total = 0;
  for (size_t c = 0; c < 4; ++c) {
    double expected = 0;  // the chunk's squares in index order, written out
    for (size_t i = c * kNormChunk; i < std::min(n, (c + 1) * kNormChunk); ++i)
      expected += static_cast<double>(g[i]) * g[i];
    CHECK(sums[c] == expected);
    total += sums[c];
  }
  CHECK(std::sqrt(total) == grad_norm(g.data(), n));  // in chunk order: the norm, bit for bit
  PlainTrainingOps ops;
  std::vector<double> via_ops(4);
  ops.sum_squares_chunks(g.data(), n, via_ops.data());
  CHECK(via_ops == sums);

  std::vector<float> acc = {1.0f, 2.0f, 1e8f}, x = {0.5f, -2.0f, 1.0f};
  add_grads(acc.data(), x.data(), 3);
  CHECK(acc == std::vector<float>{1.5f, 0.0f, 1e8f + 1.0f});  // one rounded float addition each
  ops.add(acc.data(), x.data(), 3);
  CHECK(acc == std::vector<float>{2.0f, -2.0f, 1e8f});
}

TEST_CASE("AdamW + clipping + schedule match torch.optim.AdamW for 8 steps", "[adamw][parity]") {
  SafetensorsFile f = SafetensorsFile::open(std::filesystem::path(fixture_dir()) / "06_adamw.safetensors");
  const auto& meta = f.metadata();
  const int steps = std::stoi(meta.at("steps"));
  LrSchedule schedule{std::stof(meta.at("max_lr")), std::stof(meta.at("min_lr")),
                      std::stoi(meta.at("warmup")), std::stoi(meta.at("total"))};
  AdamWConfig config{std::stof(meta.at("beta1")), std::stof(meta.at("beta2")), std::stof(meta.at("eps")),
                     std::stof(meta.at("weight_decay"))};
  const float max_norm = std::stof(meta.at("max_norm"));

  std::vector<float> params = f.get_vector("params0");
  const size_t n = params.size();
  REQUIRE(n == 47);
  const std::vector<float> grads = f.get_vector("grads"), after = f.get_vector("params");
  const std::vector<float> norms = f.get_vector("norms"), lrs = f.get_vector("lrs");
  AdamW opt(cpu, n, decay_ranges(fixture_params()), config);
  for (int s = 0; s < steps; ++s) {
    INFO("step " << s);
    std::vector<float> g = row(grads, s, n);
    // Learning rate: both sides evaluate the same formula (in double); float rounding only.
    CHECK(lr_at(schedule, s) == Approx(lrs[s]).epsilon(1e-6));
    // The norm: torch sums squares in float per tensor, we in double over the buffer; float
    // rounding of a 47-term sum is far below 1e-6 relative.
    const float norm = clip_grad_norm(g.data(), n, max_norm);
    CHECK(norm == Approx(norms[s]).epsilon(1e-6));
    opt.step(params, g, lr_at(schedule, s));
    // Tolerance: each step rounds p, m, v and the update a few times in float (≈ 6e-8 relative
    // each); after 8 steps the parameters differ by well under 1e-6 of their size.
    auto r = rel_close(params, row(after, s, n), 1e-6, "parameters");
    INFO(r.message);
    CHECK(r.ok);
  }
  CHECK(opt.step_count() == steps);
  // The moments: same rounding argument; v is a sum of squares so also well conditioned.
  auto rm = rel_close(opt.m(), f.get_vector("exp_avg"), 1e-6, "exp_avg");
  INFO(rm.message);
  CHECK(rm.ok);
  auto rv = rel_close(opt.v(), f.get_vector("exp_avg_sq"), 1e-6, "exp_avg_sq");
  INFO(rv.message);
  CHECK(rv.ok);
}

TEST_CASE("AdamW state survives save and load exactly", "[adamw][checkpoint]") {
  const auto dir = gpt2::test_temp_dir("06_adamw");
  std::vector<float> p(47, 0.5f), g(47);
  for (size_t i = 0; i < g.size(); ++i) g[i] = 0.01f * static_cast<float>(i) - 0.2f;
  AdamW a(cpu, 47, decay_ranges(fixture_params()), {});
  a.step(p, g, 1e-3f);
  a.step(p, g, 1e-3f);
  a.save(dir / "opt.safetensors");
  AdamW b(cpu, 47, decay_ranges(fixture_params()), {});
  b.load(dir / "opt.safetensors");
  CHECK(b.step_count() == 2);
  CHECK(b.m() == a.m());
  CHECK(b.v() == a.v());
  AdamW wrong(cpu, 10, {{0, 10, true}}, {});
  CHECK_THROWS_WITH(wrong.load(dir / "opt.safetensors"), Catch::Contains("adamw.m"));
  std::filesystem::remove_all(dir);
}
