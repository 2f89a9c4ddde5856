// Chapter 08: the fast cross-entropy, and FastCpuBackend against chapter 05's CpuBackend.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "chapters/05_gpt2_model/backend.h"
#include "chapters/05_gpt2_model/cross_entropy.h"
#include "chapters/08_cpu_parallel/cross_entropy_fast.h"
#include "chapters/08_cpu_parallel/fast_backend.h"
#include "chapters/08_cpu_parallel/large_pages.h"
#include "chapters/08_cpu_parallel/parallel.h"
#include "chapters/08_cpu_parallel/simd.h"
#include "chapters/08_cpu_parallel/tests/test_util.h"
#include "common/error.h"
#include "common/rng.h"
#include "tests/catch.h"

namespace {

using ch08_test::levels;
using ch08_test::random_vector;
using ch08_test::same_bits;
using ch08_test::with;

constexpr double kEps = FLT_EPSILON;

}  // namespace

// Cross-entropy. loss = (m - z_t) + log(sum_v exp(z_v - m)): the sum of V positive terms has a
// relative error below (V + 1) eps in any order, each exp below 2 eps (the AVX2 polynomial) or
// 1 ulp (std::exp), the log and the adds 2 eps |loss| + eps |m - z_t|: each loss is within
// (V + 4) eps + 2 eps |loss| + eps |m - z_t| of the exact one, and the two within twice that.
// Backward: dz_v += (dloss / sum) exp(z_v - m), minus dloss at the target: the sum's relative
// error (V + 1) eps, the exp's 2 eps and two roundings give (V + 5) eps dloss p_v for each
// implementation; adding into dz and the target's subtraction add 2 eps of the larger terms.
TEST_CASE("fast cross-entropy matches the plain one", "[ch08][cross_entropy]") {
  const std::pair<int, int> shapes[] = {{1, 1}, {3, 7}, {5, 33}, {17, 1000}, {4, 50257}};
  for (const auto& [N, V] : shapes) {
    const size_t nv = static_cast<size_t>(N) * V;
    const auto logits = random_vector(nv, 90, -8.0f, 8.0f);
    std::vector<int> targets(N);
    gpt2::Rng rng(91);
    for (int i = 0; i < N; ++i) targets[i] = (i % 3 == 2) ? -1 : static_cast<int>(rng.below(V));
    std::vector<float> losses_ref(N), lse_ref(N);
    gpt2::cross_entropy_forward(losses_ref.data(), lse_ref.data(), logits.data(), targets.data(), N, V);
    const float dloss = 1.0f / N;
    auto dlogits_ref = random_vector(nv, 92, -1e-3f, 1e-3f);
    const auto d0 = dlogits_ref;
    gpt2::cross_entropy_backward(dlogits_ref.data(), logits.data(), lse_ref.data(), targets.data(), dloss, N,
                                 V);
    // The exact softmax, in double, for the bounds.
    std::vector<double> p(nv), zmax_minus_zt(N, 0.0);
    for (int i = 0; i < N; ++i) {
      const float* z = logits.data() + static_cast<size_t>(i) * V;
      double m = z[0], sum = 0;
      for (int v = 0; v < V; ++v) m = std::max(m, static_cast<double>(z[v]));
      for (int v = 0; v < V; ++v) sum += std::exp(z[v] - m);
      for (int v = 0; v < V; ++v) p[static_cast<size_t>(i) * V + v] = std::exp(z[v] - m) / sum;
      if (targets[i] >= 0) zmax_minus_zt[i] = m - z[targets[i]];
    }
    for (gpt2::Simd level : levels()) {
      for (int threads : {1, 2}) {
        std::vector<float> losses(N, NAN), lse(N, NAN), dlogits = d0;
        with(threads, level, [&] {
          gpt2::cross_entropy_forward_fast(losses.data(), lse.data(), logits.data(), targets.data(), N, V);
          gpt2::cross_entropy_backward_fast(dlogits.data(), logits.data(), lse.data(), targets.data(), dloss,
                                            N, V);
        });
        INFO("N=" << N << " V=" << V << " " << gpt2::simd_name(level) << " threads=" << threads);
        for (int i = 0; i < N; ++i) {
          const double bound =
              2 * ((V + 4) * kEps + 2 * kEps * std::fabs(losses_ref[i]) + kEps * zmax_minus_zt[i]);
          CHECK(std::fabs(losses[i] - losses_ref[i]) <= bound);
          // lse = m + log(sum): the same bound, plus eps |lse| for the final add.
          CHECK(std::fabs(lse[i] - lse_ref[i]) <= bound + 2 * kEps * std::fabs(lse_ref[i]));
          if (targets[i] < 0) CHECK(losses[i] == 0.0f);
        }
        double worst = 0;
        for (size_t j = 0; j < nv; ++j) {
          const int i = static_cast<int>(j / V);
          if (targets[i] < 0) {
            CHECK(dlogits[j] == d0[j]);  // rows without a target get no gradient
            continue;
          }
          const double bound =
              2 * (V + 5) * kEps * dloss * p[j] + 2 * kEps * (std::fabs(d0[j]) + dloss * p[j] + dloss);
          worst = std::max(worst, std::fabs(dlogits[j] - dlogits_ref[j]) / bound);
        }
        INFO("dlogits worst error/bound " << worst);
        CHECK(worst <= 1.0);
      }
    }
  }
}

TEST_CASE("make_cpu_backend picks the fast backend unless plain kernels are asked for", "[ch08][backend]") {
  CHECK(gpt2::make_cpu_backend(false)->name() == "cpu-fast");
  CHECK(gpt2::make_cpu_backend(true)->name() == "cpu");
}

TEST_CASE("FastCpuBackend's simple ops match CpuBackend", "[ch08][backend]") {
  gpt2::CpuBackend plain;
  gpt2::FastCpuBackend fast;
  const int n = 200003;
  const auto a = random_vector(n, 100), b = random_vector(n, 101), d = random_vector(n, 102);
  std::vector<float> out_ref(n), out(n);
  plain.residual_forward(out_ref.data(), a.data(), b.data(), n);
  fast.residual_forward(out.data(), a.data(), b.data(), n);
  CHECK(same_bits(out, out_ref));
  std::vector<float> da_ref = a, db_ref = b, da = a, db = b;
  plain.residual_backward(da_ref.data(), db_ref.data(), d.data(), n);
  fast.residual_backward(da.data(), db.data(), d.data(), n);
  CHECK(same_bits(da, da_ref));
  CHECK(same_bits(db, db_ref));
  fast.zero(out.data(), n);
  CHECK(same_bits(out, std::vector<float>(n, 0.0f)));
}

// Big arrays on 2 MB pages (large_pages.h): the memory must be what allocate() promises, zeroed and
// aligned, at every size; whether the kernel really backs it with huge pages only changes speed.
TEST_CASE("FastCpuBackend's memory: zeroed, aligned, 2 MB aligned from 2 MB up", "[ch08][backend]") {
  gpt2::FastCpuBackend fast;
  const size_t two_mb = size_t{2} << 20;
  for (size_t bytes : {size_t{1}, size_t{100}, size_t{4096}, two_mb - 4, two_mb, 5 * two_mb + 12}) {
    void* p = fast.allocate(bytes);
    INFO(bytes << " bytes");
    REQUIRE(p != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
    if (bytes >= two_mb) CHECK(reinterpret_cast<uintptr_t>(p) % two_mb == 0);
    const auto* c = static_cast<const unsigned char*>(p);
    size_t nonzero = 0;
    for (size_t i = 0; i < bytes; ++i) nonzero += c[i] != 0;
    CHECK(nonzero == 0);
    std::memset(p, 0xAB, bytes);  // all of it is writable
    fast.free(p);
  }
  fast.free(nullptr);
  gpt2::LargeVector<float> v(3 * two_mb / sizeof(float), 1.5f);
  CHECK(reinterpret_cast<uintptr_t>(v.data()) % two_mb == 0);
  CHECK(v.back() == 1.5f);
}
