/// @file tensor.h
/// @brief The course's tensor: float storage, a shape and row-major strides, and cheap views.
///
/// A Tensor owns (a share of) a 64-byte aligned float buffer. Views (`view`, `slice`, `select`,
/// `transpose`, `flat_view`) share the buffer and cost nothing; `clone` and `contiguous` copy.
///
/// Notation used in comments throughout the course: B = batch, T = time (sequence position),
/// C = channels, V = vocabulary, NH = number of heads, HS = head size (C / NH).
///
/// The operations of the chapters work on raw pointers with explicit sizes (as llm.c does), so a
/// student can see every index; the Tensor is what owns memory and checks shapes at boundaries:
/// @code
///   gpt2::Tensor x({B, T, C});            // zero-initialised, shape [B, T, C]
///   gpt2::check_shape(x, {B, T, C}, "x"); // throws gpt2::Error naming "x" if it is not
///   layernorm_forward(out.data(), ..., x.data(), ..., B, T, C);
/// @endcode
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

/// A list of sizes, outermost first ([B, T, C]).
using Shape = std::vector<int64_t>;

/// "[2, 3, 4]"
std::string shape_to_string(const Shape& shape);
/// The number of elements a shape holds (1 for the empty shape, a scalar).
int64_t shape_numel(const Shape& shape);

/// Owning, shareable, 64-byte aligned float tensor with row-major strides (see file comment).
class Tensor {
 public:
  /// An empty tensor: no storage, shape [0].
  Tensor();
  /// A zero-filled tensor of the given shape. Sizes must be >= 0.
  explicit Tensor(Shape shape);
  Tensor(std::initializer_list<int64_t> shape) : Tensor(Shape(shape)) {}

  /// A tensor of the given shape holding a copy of `values` (values.size() must match).
  static Tensor from(Shape shape, std::span<const float> values);
  /// A tensor of the given shape, every element `value`.
  static Tensor full(Shape shape, float value);

  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return static_cast<int>(shape_.size()); }
  /// Size of dimension d; negative d counts from the end (size(-1) is the last).
  int64_t size(int d) const;
  int64_t numel() const { return shape_numel(shape_); }
  /// True when the elements are laid out row-major with no gaps (views by select/slice of the
  /// outermost dimension stay contiguous; transposes do not).
  bool is_contiguous() const;

  /// Pointer to the first element of this view.
  float* data() { return storage_.get() + offset_; }
  const float* data() const { return storage_.get() + offset_; }
  /// The elements as a span; the tensor must be contiguous.
  std::span<float> span();
  std::span<const float> span() const;
  /// Copies the elements, in row-major order, into a vector (works for any view).
  std::vector<float> to_vector() const;

  /// Element access with bounds checks, e.g. x.at({b, t, c}).
  float& at(std::initializer_list<int64_t> index);
  float at(std::initializer_list<int64_t> index) const;

  /// Same elements, new shape (numel must match; the tensor must be contiguous). One size may be
  /// -1 and is inferred.
  Tensor view(Shape shape) const;
  /// Elements [start, end) of dimension d, as a view.
  Tensor slice(int d, int64_t start, int64_t end) const;
  /// Index i of dimension 0, as a view with one dimension fewer.
  Tensor select(int64_t i) const;
  /// Dimensions d0 and d1 swapped, as a (usually non-contiguous) view.
  Tensor transpose(int d0, int d1) const;
  /// A contiguous view of `shape` starting `offset` elements into this contiguous tensor. This is
  /// how the model cuts its one parameter buffer into named weights.
  Tensor flat_view(int64_t offset, Shape shape) const;

  /// A contiguous copy of the elements with its own storage.
  Tensor clone() const;
  /// *this if already contiguous, else clone().
  Tensor contiguous() const;
  /// Sets every element (of this view) to value.
  void fill(float value);
  /// Copies src's elements into this view; shapes must be equal.
  void copy_from(const Tensor& src);

  /// True if both share storage (one is a view of the other, or both of a third).
  bool shares_storage_with(const Tensor& other) const { return storage_ == other.storage_; }

 private:
  Tensor(std::shared_ptr<float[]> storage, int64_t storage_size, int64_t offset, Shape shape, Shape strides);
  int64_t offset_of(std::initializer_list<int64_t> index) const;

  std::shared_ptr<float[]> storage_;
  int64_t storage_size_ = 0;  // floats in the whole buffer (for range checks of views)
  int64_t offset_ = 0;        // first element of this view, in floats from the buffer start
  Shape shape_;
  Shape strides_;  // in elements, not bytes
};

/// Throws gpt2::Error if t's shape is not `expected`, naming the tensor:
/// "x: expected shape [2, 3], got [3, 2]".
void check_shape(const Tensor& t, const Shape& expected, std::string_view name);

/// Row-major strides of a contiguous tensor of this shape.
Shape contiguous_strides(const Shape& shape);

}  // namespace gpt2
