/// @file safetensors.h
/// @brief Reading and writing the safetensors format (Hugging Face's model file, our fixture file).
///
/// The format: 8 bytes little-endian u64 N, then N bytes of JSON, then the raw tensor bytes.
/// The JSON maps each tensor name to {"dtype": "F32", "shape": [r, c], "data_offsets": [begin, end]},
/// offsets counted from the first byte after the JSON; an optional "__metadata__" maps strings to
/// strings. Tensors are row-major and little-endian.
///
/// Reading validates everything before any tensor is used (header length inside the file, valid
/// JSON, known dtype, non-negative shape whose element count is multiplied out with overflow
/// checks, offsets inside the data and matching the shape's byte count, and, as the format
/// requires, the tensors' byte ranges tiling the data section: sorted by offset, each begins where
/// the previous one ends, none overlaps or aliases another, and the last ends at the end of the
/// file) and reports the first problem with the file name:
/// "model.safetensors: tensor 'wte.weight': data_offsets [0, 40] hold 40 bytes, shape [3, 4] of F32 needs
/// 48".
#pragma once

#include <bit>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "tensor.h"

namespace gpt2 {

/// The element types we read. F32/F16/BF16/F64 convert to float; I64/I32 to int64; I8 is read as
/// it is (int8-quantized weights, chapter 08). BOOL and U8 are recognised (checkpoints may store
/// buffers such as attention masks in them) but not converted.
enum class DType { F32, F16, BF16, F64, I64, I32, BOOL, U8, I8 };
/// "F32", "F16", ...
const char* dtype_name(DType dtype);
/// Bytes per element.
size_t dtype_size(DType dtype);

/// IEEE half and bfloat16 to float (exact). A bfloat16 is the upper half of a float's bits.
float f16_to_float(uint16_t h);
inline float bf16_to_float(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}
/// float to IEEE half, rounding to nearest even (for writing F16 files).
uint16_t float_to_f16(float f);
/// float to bfloat16 (the upper 16 bits of the float), rounding to nearest even; a NaN stays a NaN.
uint16_t float_to_bf16(float f);

/// One entry of the header.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  ///< byte range inside the data section
};

/// A whole safetensors file in memory, validated on open.
class SafetensorsFile {
 public:
  /// Reads and validates the file; throws gpt2::Error naming the file and the first problem.
  static SafetensorsFile open(const std::filesystem::path& path);
  /// The same from bytes in memory (`name` is used in messages).
  static SafetensorsFile parse(std::string bytes, const std::string& name);

  bool contains(const std::string& name) const { return tensors_.count(name) != 0; }
  /// Throws "file: no tensor named 'x'" if absent.
  const TensorInfo& info(const std::string& name) const;
  /// All tensor names, sorted.
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  /// The tensor converted to float (from F32, F16, BF16 or F64).
  Tensor get(const std::string& name) const;
  /// Converts into `out`, checking that the tensor's shape equals `expected` first.
  void read_into(const std::string& name, const Shape& expected, std::span<float> out) const;
  /// The tensor converted to int64 (from I64 or I32), e.g. token ids in fixtures.
  std::vector<int64_t> get_int(const std::string& name) const;
  /// The values of an I8 tensor (throws naming the file and tensor for another dtype).
  std::vector<int8_t> get_int8(const std::string& name) const;
  /// A float tensor's elements as a vector (shortcut for tests).
  std::vector<float> get_vector(const std::string& name) const;

  const std::string& file_name() const { return file_name_; }

 private:
  std::string file_name_;
  std::string bytes_;        // the whole file
  uint64_t data_start_ = 0;  // 8 + header length
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

/// The "__metadata__" of the safetensors file at `path`, reading only its header (not the tensors):
/// a cheap look at what a large file holds. Throws gpt2::Error naming the file when the header is
/// not a valid one.
std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path);

/// Collects tensors and writes them as one safetensors file (atomically: temporary file + rename).
/// Tensors are written in the order added; F32 unless F16 or BF16 is asked for.
class SafetensorsWriter {
 public:
  void add(const std::string& name, const Shape& shape, std::span<const float> values,
           DType dtype = DType::F32);
  void add(const std::string& name, const Tensor& t, DType dtype = DType::F32);
  /// add() in F32 without a copy: the writer keeps a view of `values`, which must stay alive and
  /// unchanged until the last write() or serialize(). A model's weights (500 MB for GPT-2 124M)
  /// are written from where they are.
  void add_view(const std::string& name, const Shape& shape, std::span<const float> values);
  void add_int64(const std::string& name, const Shape& shape, std::span<const int64_t> values);
  void add_int8(const std::string& name, const Shape& shape, std::span<const int8_t> values);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void write(const std::filesystem::path& path) const;
  /// The file's bytes (what write() writes).
  std::string serialize() const;

 private:
  // The file's first part: the header's length (8 bytes, little-endian) and the header, padded.
  std::string header_bytes() const;

  struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    std::string owned;           // the bytes, when the writer holds them
    std::string_view view = {};  // else where they are (add_view)
    bool is_view = false;
    std::string_view bytes() const { return is_view ? view : std::string_view(owned); }
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace gpt2
