#include "exercise.h"
#include "tests/catch.h"

TEST_CASE("00.1 row_major_strides", "[exercise]") {
  CHECK(exercise::row_major_strides({2, 3, 4}) == gpt2::Shape{12, 4, 1});
  CHECK(exercise::row_major_strides({5}) == gpt2::Shape{1});
  CHECK(exercise::row_major_strides({7, 1, 3}) == gpt2::Shape{3, 3, 1});
  CHECK(exercise::row_major_strides({}).empty());
}

TEST_CASE("00.2 element_offset agrees with the Tensor's own indexing", "[exercise]") {
  CHECK(exercise::element_offset({12, 4, 1}, {1, 2, 3}) == 23);
  // Check against a tensor whose element values are their own offsets, through a transposed view
  // (strides that are not row-major).
  gpt2::Tensor t({3, 5});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i);
  gpt2::Tensor tr = t.transpose(0, 1);
  for (int64_t r = 0; r < 5; ++r) {
    for (int64_t c = 0; c < 3; ++c) {
      CHECK(exercise::element_offset(tr.strides(), {r, c}) == static_cast<int64_t>(tr.at({r, c})));
    }
  }
}
