#include "common/error.h"
#include "common/tensor.h"
#include "tests/catch.h"

using gpt2::Tensor;

TEST_CASE("a new tensor is zero-filled, 64-byte aligned, row-major", "[tensor]") {
  Tensor t({2, 3, 4});
  CHECK(t.numel() == 24);
  CHECK(t.dim() == 3);
  CHECK(t.size(-1) == 4);
  CHECK(t.strides() == gpt2::Shape{12, 4, 1});
  CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
  for (float x : t.span()) CHECK(x == 0.0f);
  t.at({1, 2, 3}) = 5.0f;
  CHECK(t.data()[1 * 12 + 2 * 4 + 3] == 5.0f);
}

TEST_CASE("views share storage; clone does not", "[tensor]") {
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  Tensor t = Tensor::from({3, 4}, v);
  Tensor r = t.view({2, 6});
  CHECK(r.at({1, 0}) == 6.0f);
  r.at({1, 0}) = 100.0f;
  CHECK(t.at({1, 2}) == 100.0f);
  Tensor c = t.clone();
  c.at({0, 0}) = -1.0f;
  CHECK(t.at({0, 0}) == 0.0f);
  CHECK(t.view({-1}).size(0) == 12);
  CHECK(t.view({4, -1}).shape() == gpt2::Shape{4, 3});
}

TEST_CASE("slice, select and transpose index the right elements", "[tensor]") {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  Tensor t = Tensor::from({2, 3, 4}, v);
  Tensor s = t.select(1);  // elements 12..23
  CHECK(s.shape() == gpt2::Shape{3, 4});
  CHECK(s.at({0, 0}) == 12.0f);
  CHECK(s.is_contiguous());
  Tensor sl = t.slice(2, 1, 3);  // last dim 1..2
  CHECK(sl.shape() == gpt2::Shape{2, 3, 2});
  CHECK(!sl.is_contiguous());
  CHECK(sl.to_vector() == std::vector<float>{1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22});
  Tensor tr = t.select(0).transpose(0, 1);  // [4, 3]
  CHECK(tr.shape() == gpt2::Shape{4, 3});
  CHECK(tr.at({3, 2}) == 11.0f);
  CHECK(tr.contiguous().to_vector() == std::vector<float>{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
  Tensor fv = t.flat_view(20, {2, 2});
  CHECK(fv.to_vector() == std::vector<float>{20, 21, 22, 23});
  sl.fill(-1.0f);
  CHECK(t.at({0, 0, 1}) == -1.0f);
  CHECK(t.at({0, 0, 3}) == 3.0f);
}

TEST_CASE("shape errors name the tensor and both shapes", "[tensor]") {
  Tensor t({2, 3});
  REQUIRE_THROWS_AS(gpt2::check_shape(t, {3, 2}, "weight"), gpt2::Error);
  try {
    gpt2::check_shape(t, {3, 2}, "weight");
  } catch (const gpt2::Error& e) {
    CHECK(std::string(e.what()) == "weight: expected shape [3, 2], got [2, 3]");
  }
  CHECK_NOTHROW(gpt2::check_shape(t, {2, 3}, "weight"));
  CHECK_THROWS_AS(t.view({4, 2}), gpt2::Error);
  CHECK_THROWS_AS(t.at({2, 0}), gpt2::Error);
  CHECK_THROWS_AS(t.at({0}), gpt2::Error);
  CHECK_THROWS_AS(t.slice(1, 2, 4), gpt2::Error);
  CHECK_THROWS_AS(t.flat_view(4, {3}), gpt2::Error);
  CHECK_THROWS_AS(t.transpose(0, 1).view({6}), gpt2::Error);
  CHECK_THROWS_AS(Tensor::from({2, 2}, std::vector<float>{1, 2, 3}), gpt2::Error);
}

TEST_CASE("copy_from writes through a strided view", "[tensor]") {
  Tensor a({2, 2});
  Tensor b = Tensor::from({2, 2}, std::vector<float>{1, 2, 3, 4});
  a.transpose(0, 1).copy_from(b);
  CHECK(a.to_vector() == std::vector<float>{1, 3, 2, 4});
  CHECK_THROWS_AS(a.copy_from(Tensor({4})), gpt2::Error);
}
