// Exercise 00 (student version): replace each `throw` with your code, then run
//   scripts/check_exercises.sh 00
// (see exercises/00_tensors/README.md).
#include "common/error.h"
#include "exercise.h"

namespace exercise {

gpt2::Shape row_major_strides(const gpt2::Shape& shape) {
  // TODO(00.1): the last dimension has stride 1; each earlier one is the product of the sizes
  // after it.
  (void)shape;
  throw gpt2::Error("exercise 00.1 row_major_strides: not implemented yet");
}

int64_t element_offset(const gpt2::Shape& strides, const std::vector<int64_t>& index) {
  // TODO(00.2): sum index[d] * strides[d] over the dimensions.
  (void)strides;
  (void)index;
  throw gpt2::Error("exercise 00.2 element_offset: not implemented yet");
}

}  // namespace exercise
