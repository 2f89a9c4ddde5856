/// @file exercises/00_tensors/exercise.h
/// @brief Exercise 00: how a shape and strides turn an index into a memory offset.
#pragma once

#include <cstdint>
#include <vector>

#include "common/tensor.h"

namespace exercise {

/// 00.1: the row-major strides of a contiguous tensor of this shape, in elements.
/// Example: shape [2, 3, 4] has strides [12, 4, 1].
gpt2::Shape row_major_strides(const gpt2::Shape& shape);

/// 00.2: the offset, in elements from the first one, of element `index` of a tensor with these
/// strides. Example: strides [12, 4, 1], index [1, 2, 3] -> 1*12 + 2*4 + 3*1 = 23.
int64_t element_offset(const gpt2::Shape& strides, const std::vector<int64_t>& index);

}  // namespace exercise
