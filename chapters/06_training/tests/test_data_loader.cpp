// The data loader: windows and targets, epochs, shuffling from a seed, and exact restore.
#include <algorithm>
#include <set>
#include <vector>

#include "chapters/06_training/data_loader.h"
#include "tests/catch.h"

using namespace gpt2;

namespace {
std::vector<int> iota_tokens(int n) {
  std::vector<int> t(n);
  for (int i = 0; i < n; ++i) t[i] = i;
  return t;
}
}  // namespace

TEST_CASE("DataLoader: in order, targets are the next tokens, epochs wrap", "[data]") {
  // 23 tokens, T = 4: windows [0..4], [4..8], ..., [16..20]: W = 22 / 4 = 5; B = 2: 2 batches/epoch.
  DataLoader loader(iota_tokens(23), 2, 4, false, 1);
  CHECK(loader.num_windows() == 5);
  CHECK(loader.batches_per_epoch() == 2);
  std::vector<int> x(8), y(8);
  loader.next_batch(x.data(), y.data());
  CHECK(x == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(y == std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
  loader.next_batch(x.data(), y.data());
  CHECK(x == std::vector<int>{8, 9, 10, 11, 12, 13, 14, 15});
  loader.next_batch(x.data(), y.data());  // window 4 is left over: a new epoch starts at window 0
  CHECK(x[0] == 0);
  CHECK(loader.state().epoch == 1);
  CHECK_THROWS_WITH(DataLoader(iota_tokens(8), 2, 4, false, 1), Catch::Contains("fewer than one batch"));
}

TEST_CASE("DataLoader: shuffling visits every window once per epoch, reproducibly", "[data]") {
  DataLoader a(iota_tokens(1001), 4, 10, true, 42), b(iota_tokens(1001), 4, 10, true, 42),
      c(iota_tokens(1001), 4, 10, true, 43);
  std::vector<int> xa(40), ya(40), xb(40), yb(40), xc(40), yc(40);
  std::set<int> starts;
  bool differs = false;
  for (int i = 0; i < 25; ++i) {  // 100 windows, 25 batches: one epoch
    a.next_batch(xa.data(), ya.data());
    b.next_batch(xb.data(), yb.data());
    c.next_batch(xc.data(), yc.data());
    CHECK(xa == xb);
    differs = differs || xa != xc;
    for (int r = 0; r < 4; ++r) {
      starts.insert(xa[r * 10]);
      CHECK(ya[r * 10] == xa[r * 10] + 1);
    }
  }
  CHECK(starts.size() == 100);  // a permutation of all windows
  CHECK(differs);               // another seed, another order
}

TEST_CASE("DataLoader: state() and set_state() continue with the same batches", "[data][checkpoint]") {
  DataLoader a(iota_tokens(501), 3, 8, true, 7);
  std::vector<int> x(24), y(24);
  for (int i = 0; i < 27; ++i) a.next_batch(x.data(), y.data());  // into the second epoch (20 per epoch)
  DataLoaderState saved = a.state();
  CHECK(saved.epoch == 1);
  std::vector<std::vector<int>> expected;
  for (int i = 0; i < 30; ++i) {
    a.next_batch(x.data(), y.data());
    expected.push_back(x);
  }
  DataLoader b(iota_tokens(501), 3, 8, true, 7);
  b.set_state(saved);
  CHECK(b.state() == saved);
  for (int i = 0; i < 30; ++i) {
    b.next_batch(x.data(), y.data());
    CHECK(x == expected[i]);
  }
  CHECK_THROWS_WITH(b.set_state({0, 1000, 1}), Catch::Contains("does not fit"));
}
