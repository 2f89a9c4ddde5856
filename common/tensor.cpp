#include "tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "error.h"

namespace gpt2 {

namespace {

// 64 bytes: one cache line, and the width of an AVX-512 register. Aligned storage lets the SIMD
// kernels of chapter 08 use aligned loads on tensor starts.
constexpr size_t kAlignment = 64;

std::shared_ptr<float[]> allocate(int64_t n) {
  size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(float);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;  // aligned_alloc wants a multiple
  auto* p = static_cast<float*>(std::aligned_alloc(kAlignment, bytes));
  if (p == nullptr) fail("out of memory allocating a tensor of ", n, " floats (", bytes, " bytes)");
  std::memset(p, 0, bytes);
  return std::shared_ptr<float[]>(p, [](float* q) { std::free(q); });
}

}  // namespace

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  int64_t s = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

Tensor::Tensor() : Tensor(Shape{0}) {}

Tensor::Tensor(Shape shape) : shape_(std::move(shape)) {
  for (int64_t d : shape_)
    GPT2_CHECK(d >= 0, "tensor shape ", shape_to_string(shape_), " has a negative size");
  strides_ = contiguous_strides(shape_);
  storage_size_ = numel();
  storage_ = allocate(storage_size_);
}

Tensor::Tensor(std::shared_ptr<float[]> storage, int64_t storage_size, int64_t offset, Shape shape,
               Shape strides)
    : storage_(std::move(storage)),
      storage_size_(storage_size),
      offset_(offset),
      shape_(std::move(shape)),
      strides_(std::move(strides)) {}

Tensor Tensor::from(Shape shape, std::span<const float> values) {
  Tensor t(std::move(shape));
  GPT2_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "Tensor::from: ", values.size(),
             " values for shape ", shape_to_string(t.shape()), " (", t.numel(), " elements)");
  std::copy(values.begin(), values.end(), t.data());
  return t;
}

Tensor Tensor::full(Shape shape, float value) {
  Tensor t(std::move(shape));
  t.fill(value);
  return t;
}

int64_t Tensor::size(int d) const {
  int n = dim();
  int dd = d < 0 ? d + n : d;
  GPT2_CHECK(dd >= 0 && dd < n, "dimension ", d, " out of range for shape ", shape_to_string(shape_));
  return shape_[dd];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = shape_.size(); i-- > 0;) {
    if (shape_[i] != 1 && strides_[i] != expected) return false;
    expected *= shape_[i];
  }
  return true;
}

std::span<float> Tensor::span() {
  GPT2_CHECK(is_contiguous(), "span() of a non-contiguous tensor ", shape_to_string(shape_));
  return {data(), static_cast<size_t>(numel())};
}

std::span<const float> Tensor::span() const {
  GPT2_CHECK(is_contiguous(), "span() of a non-contiguous tensor ", shape_to_string(shape_));
  return {data(), static_cast<size_t>(numel())};
}

std::vector<float> Tensor::to_vector() const {
  Tensor c = contiguous();
  return std::vector<float>(c.data(), c.data() + c.numel());
}

int64_t Tensor::offset_of(std::initializer_list<int64_t> index) const {
  GPT2_CHECK(static_cast<int>(index.size()) == dim(), "index with ", index.size(),
             " coordinates for a tensor of shape ", shape_to_string(shape_));
  int64_t off = offset_;
  size_t d = 0;
  for (int64_t i : index) {
    GPT2_CHECK(i >= 0 && i < shape_[d], "index ", i, " out of range for dimension ", d, " of shape ",
               shape_to_string(shape_));
    off += i * strides_[d];
    ++d;
  }
  return off;
}

float& Tensor::at(std::initializer_list<int64_t> index) {
  return storage_[offset_of(index)];
}
float Tensor::at(std::initializer_list<int64_t> index) const {
  return storage_[offset_of(index)];
}

Tensor Tensor::view(Shape shape) const {
  GPT2_CHECK(is_contiguous(), "view() of a non-contiguous tensor ", shape_to_string(shape_),
             " (call contiguous() first)");
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      GPT2_CHECK(infer < 0, "view(): only one size may be -1 in ", shape_to_string(shape));
      infer = static_cast<int>(i);
    } else {
      GPT2_CHECK(shape[i] >= 0, "view(): negative size in ", shape_to_string(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    GPT2_CHECK(known > 0 && numel() % known == 0, "view(): cannot infer -1 in ", shape_to_string(shape),
               " for ", numel(), " elements");
    shape[infer] = numel() / known;
  }
  GPT2_CHECK(shape_numel(shape) == numel(), "view(): shape ", shape_to_string(shape), " holds ",
             shape_numel(shape), " elements, the tensor ", shape_to_string(shape_), " has ", numel());
  Shape strides = contiguous_strides(shape);
  return Tensor(storage_, storage_size_, offset_, std::move(shape), std::move(strides));
}

Tensor Tensor::slice(int d, int64_t start, int64_t end) const {
  int dd = d < 0 ? d + dim() : d;
  GPT2_CHECK(dd >= 0 && dd < dim(), "slice(): dimension ", d, " out of range for shape ",
             shape_to_string(shape_));
  GPT2_CHECK(0 <= start && start <= end && end <= shape_[dd], "slice(): [", start, ", ", end,
             ") out of range for dimension ", dd, " of shape ", shape_to_string(shape_));
  Shape shape = shape_;
  shape[dd] = end - start;
  return Tensor(storage_, storage_size_, offset_ + start * strides_[dd], std::move(shape), strides_);
}

Tensor Tensor::select(int64_t i) const {
  GPT2_CHECK(dim() >= 1, "select() of a scalar");
  GPT2_CHECK(i >= 0 && i < shape_[0], "select(", i, ") out of range for shape ", shape_to_string(shape_));
  Shape shape(shape_.begin() + 1, shape_.end());
  Shape strides(strides_.begin() + 1, strides_.end());
  return Tensor(storage_, storage_size_, offset_ + i * strides_[0], std::move(shape), std::move(strides));
}

Tensor Tensor::transpose(int d0, int d1) const {
  int n = dim();
  int a = d0 < 0 ? d0 + n : d0, b = d1 < 0 ? d1 + n : d1;
  GPT2_CHECK(a >= 0 && a < n && b >= 0 && b < n, "transpose(", d0, ", ", d1, ") out of range for shape ",
             shape_to_string(shape_));
  Shape shape = shape_, strides = strides_;
  std::swap(shape[a], shape[b]);
  std::swap(strides[a], strides[b]);
  return Tensor(storage_, storage_size_, offset_, std::move(shape), std::move(strides));
}

Tensor Tensor::flat_view(int64_t offset, Shape shape) const {
  GPT2_CHECK(is_contiguous(), "flat_view() of a non-contiguous tensor");
  int64_t n = shape_numel(shape);
  GPT2_CHECK(offset >= 0 && offset + n <= numel(), "flat_view(): ", n, " elements at offset ", offset,
             " do not fit in a tensor of ", numel());
  Shape strides = contiguous_strides(shape);
  return Tensor(storage_, storage_size_, offset_ + offset, std::move(shape), std::move(strides));
}

namespace {
// Calls f(flat_offset) for every element of a strided view, in row-major order.
template <typename F>
void for_each_offset(const Shape& shape, const Shape& strides, int64_t base, F&& f) {
  int64_t n = shape_numel(shape);
  if (n == 0) return;
  std::vector<int64_t> idx(shape.size(), 0);
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = base;
    for (size_t d = 0; d < shape.size(); ++d) off += idx[d] * strides[d];
    f(off);
    for (size_t d = shape.size(); d-- > 0;) {  // odometer increment
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}
}  // namespace

Tensor Tensor::clone() const {
  Tensor out(shape_);
  float* dst = out.data();
  if (is_contiguous()) {
    std::copy(data(), data() + numel(), dst);
  } else {
    for_each_offset(shape_, strides_, offset_, [&](int64_t off) { *dst++ = storage_[off]; });
  }
  return out;
}

Tensor Tensor::contiguous() const {
  return is_contiguous() ? *this : clone();
}

void Tensor::fill(float value) {
  if (is_contiguous()) {
    std::fill(data(), data() + numel(), value);
  } else {
    for_each_offset(shape_, strides_, offset_, [&](int64_t off) { storage_[off] = value; });
  }
}

void Tensor::copy_from(const Tensor& src) {
  GPT2_CHECK(src.shape() == shape_, "copy_from(): source shape ", shape_to_string(src.shape()),
             " differs from destination shape ", shape_to_string(shape_));
  std::vector<float> values = src.to_vector();
  const float* p = values.data();
  for_each_offset(shape_, strides_, offset_, [&](int64_t off) { storage_[off] = *p++; });
}

void check_shape(const Tensor& t, const Shape& expected, std::string_view name) {
  GPT2_CHECK(t.shape() == expected, name, ": expected shape ", shape_to_string(expected), ", got ",
             shape_to_string(t.shape()));
}

}  // namespace gpt2
