#include "safetensors.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <nlohmann/json.hpp>

#include "error.h"
#include "file_io.h"

namespace gpt2 {

using nlohmann::json;

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::F32:
      return "F32";
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::F64:
      return "F64";
    case DType::I64:
      return "I64";
    case DType::I32:
      return "I32";
    case DType::BOOL:
      return "BOOL";
    case DType::U8:
      return "U8";
    case DType::I8:
      return "I8";
  }
  return "?";
}

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32:
    case DType::I32:
      return 4;
    case DType::F16:
    case DType::BF16:
      return 2;
    case DType::F64:
    case DType::I64:
      return 8;
    case DType::BOOL:
    case DType::U8:
    case DType::I8:
      return 1;
  }
  return 0;
}

float f16_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;  // +-0
    } else {        // subnormal half: normalise into a float
      int e = -1;
      do {
        mant <<= 1;
        ++e;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000u | mant << 13;  // inf / nan
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

uint16_t float_to_f16(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  uint32_t exp = (x >> 23) & 0xFF, mant = x & 0x7FFFFF;
  if (exp == 0xFF) return sign | 0x7C00 | (mant ? 0x200 : 0);  // inf / nan
  int e = static_cast<int>(exp) - 127 + 15;
  if (e >= 31) return sign | 0x7C00;  // overflow to inf
  if (e <= 0) {                       // subnormal or zero in half
    if (e < -10) return sign;
    mant |= 0x800000;
    int shift = 14 - e;
    uint32_t half = mant >> shift, rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rest > mid || (rest == mid && (half & 1))) ++half;
    return sign | static_cast<uint16_t>(half);
  }
  uint32_t half = static_cast<uint32_t>(e) << 10 | mant >> 13;
  uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) ++half;  // may carry into exp: correct
  return sign | static_cast<uint16_t>(half);
}

uint16_t float_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40);  // NaN stays NaN
  // Round to nearest even on the 16 bits that are cut: add 0x7FFF, plus 1 when the kept part is odd.
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

namespace {

DType parse_dtype(const std::string& s, const std::string& file, const std::string& tensor) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "F64") return DType::F64;
  if (s == "I64") return DType::I64;
  if (s == "I32") return DType::I32;
  if (s == "BOOL") return DType::BOOL;
  if (s == "U8") return DType::U8;
  if (s == "I8") return DType::I8;
  fail(file, ": tensor '", tensor, "' has unsupported dtype '", s,
       "' (supported: F32, F16, BF16, F64, I64, I32, BOOL, U8, I8)");
}

// More elements than any file could hold (and a bound that keeps products in int64_t).
constexpr uint64_t kMaxElements = uint64_t{1} << 62;

// The format requires the tensors' byte ranges, sorted by offset, to follow each other without
// overlap or gap and to end where the file ends: no two tensors may share (alias) bytes, and no
// byte is left unaccounted for. (An empty tensor takes no room and may begin where another does.)
void check_offsets_tile_data(const std::map<std::string, TensorInfo>& tensors, uint64_t data_size,
                             const std::string& name) {
  std::vector<const TensorInfo*> by_offset;
  for (const auto& [key, info] : tensors) by_offset.push_back(&info);
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t expected = 0;  // where the next tensor must begin
  const TensorInfo* previous = nullptr;
  for (const TensorInfo* t : by_offset) {
    GPT2_CHECK(t->begin >= expected, name, ": tensor '", t->name, "': data_offsets [", t->begin, ", ", t->end,
               "] overlap those of tensor '", previous ? previous->name : "", "' [",
               previous ? previous->begin : 0, ", ", previous ? previous->end : 0,
               "] (tensors may not share bytes)");
    GPT2_CHECK(t->begin == expected, name, ": tensor '", t->name, "': data_offsets [", t->begin, ", ", t->end,
               "] leave a gap of ", t->begin - expected, " bytes after ",
               previous ? cat("tensor '", previous->name, "'") : std::string("the header"),
               " (the tensors must cover the data without holes)");
    expected = t->end;
    previous = t;
  }
  GPT2_CHECK(expected == data_size, name, ": the data section has ", data_size - expected,
             " bytes after the last tensor (", data_size,
             " bytes in all; the tensors must cover it exactly)");
}

// The string-to-string map of "__metadata__".
std::map<std::string, std::string> parse_metadata(const json& value, const std::string& name) {
  GPT2_CHECK(value.is_object(), name, ": __metadata__ is not an object");
  std::map<std::string, std::string> metadata;
  for (auto& [k, v] : value.items()) {
    GPT2_CHECK(v.is_string(), name, ": __metadata__ value of '", k, "' is not a string");
    metadata[k] = v.get<std::string>();
  }
  return metadata;
}

// The header's JSON object, from its text (the bytes after the 8-byte length).
json parse_header(std::string_view text, const std::string& name) {
  // JSON text has no NUL byte (a string would escape it), and nlohmann's parser stops at one:
  // "{}" followed by NUL bytes and anything at all would pass for "{}".
  GPT2_CHECK(text.find('\0') == std::string_view::npos, name,
             ": the header contains a NUL byte (the format allows only JSON, padded with spaces)");
  try {
    json header = json::parse(text.begin(), text.end());
    GPT2_CHECK(header.is_object(), name, ": the header is not a JSON object");
    return header;
  } catch (const json::exception& e) {
    fail(name, ": the header is not valid JSON (", e.what(), ")");
  }
}

}  // namespace

std::map<std::string, std::string> read_safetensors_metadata(const std::filesystem::path& path) {
  BinaryReader in(path);
  const std::string name = path.string();
  GPT2_CHECK(in.size() >= 8, name, ": not a safetensors file (", in.size(),
             " bytes, shorter than the 8-byte header length)");
  const uint64_t n = in.read_value<uint64_t>();
  GPT2_CHECK(n <= in.size() - 8, name, ": header length ", n, " runs past the end of the file (", in.size(),
             " bytes)");
  std::string text(static_cast<size_t>(n), '\0');
  in.read(text.data(), text.size());
  const json header = parse_header(text, name);
  return header.contains("__metadata__") ? parse_metadata(header["__metadata__"], name)
                                         : std::map<std::string, std::string>{};
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  return parse(read_file(path), path.string());
}

SafetensorsFile SafetensorsFile::parse(std::string bytes, const std::string& name) {
  SafetensorsFile f;
  f.file_name_ = name;
  f.bytes_ = std::move(bytes);
  const std::string& b = f.bytes_;
  GPT2_CHECK(b.size() >= 8, name, ": not a safetensors file (", b.size(),
             " bytes, shorter than the 8-byte header length)");
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  GPT2_CHECK(n <= b.size() - 8, name, ": header length ", n, " runs past the end of the file (", b.size(),
             " bytes)");
  f.data_start_ = 8 + n;
  uint64_t data_size = b.size() - f.data_start_;
  const json header = parse_header(std::string_view(b).substr(8, static_cast<size_t>(n)), name);
  for (auto& [key, value] : header.items()) {
    if (key == "__metadata__") {
      f.metadata_ = parse_metadata(value, name);
      continue;
    }
    GPT2_CHECK(value.is_object() && value.contains("dtype") && value.contains("shape") &&
                   value.contains("data_offsets"),
               name, ": tensor '", key, "' lacks dtype, shape or data_offsets");
    GPT2_CHECK(value["dtype"].is_string(), name, ": tensor '", key, "': dtype is not a string");
    TensorInfo info;
    info.name = key;
    info.dtype = parse_dtype(value["dtype"].get<std::string>(), name, key);
    GPT2_CHECK(value["shape"].is_array(), name, ": tensor '", key, "': shape is not an array");
    // The element count, multiplied with a check: [2^32, 2^32] must not wrap around to 0 in 64
    // bits. Bounding the product of the non-zero sizes also bounds every partial product, so
    // shape_numel() on this shape cannot overflow later, whatever the order of the sizes.
    uint64_t numel = 1, nonzero_product = 1;
    bool has_zero = false;
    for (auto& d : value["shape"]) {
      GPT2_CHECK(d.is_number_integer() && d.get<int64_t>() >= 0, name, ": tensor '", key,
                 "': shape has an entry that is not a non-negative integer");
      const int64_t size = d.get<int64_t>();
      GPT2_CHECK(size < (int64_t{1} << 40), name, ": tensor '", key, "': absurd size ", size);
      info.shape.push_back(size);
      if (size == 0) {
        has_zero = true;
        continue;
      }
      GPT2_CHECK(nonzero_product <= kMaxElements / static_cast<uint64_t>(size), name, ": tensor '", key,
                 "': shape ", value["shape"].dump(), " has too many elements (more than 2^62)");
      nonzero_product *= static_cast<uint64_t>(size);
    }
    numel = has_zero ? 0 : nonzero_product;
    auto& off = value["data_offsets"];
    GPT2_CHECK(
        off.is_array() && off.size() == 2 && off[0].is_number_unsigned() && off[1].is_number_unsigned(), name,
        ": tensor '", key, "': data_offsets is not a pair of non-negative integers");
    info.begin = off[0].get<uint64_t>();
    info.end = off[1].get<uint64_t>();
    GPT2_CHECK(info.begin <= info.end && info.end <= data_size, name, ": tensor '", key, "': data_offsets [",
               info.begin, ", ", info.end, "] lie outside the data (", data_size,
               " bytes; the file may be truncated)");
    const uint64_t held = info.end - info.begin, width = dtype_size(info.dtype);
    const uint64_t need = numel <= UINT64_MAX / width ? numel * width : UINT64_MAX;  // (no wrap-around)
    GPT2_CHECK(held == need, name, ": tensor '", key, "': data_offsets [", info.begin, ", ", info.end,
               "] hold ", held, " bytes, shape ", shape_to_string(info.shape), " of ", dtype_name(info.dtype),
               " needs ", need == UINT64_MAX ? cat(numel, " elements of ", width, " bytes") : cat(need));
    f.tensors_[key] = std::move(info);
  }
  check_offsets_tile_data(f.tensors_, data_size, name);
  return f;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  GPT2_CHECK(it != tensors_.end(), file_name_, ": no tensor named '", name, "'");
  return it->second;
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (auto& [k, v] : tensors_) out.push_back(k);
  return out;
}

void SafetensorsFile::read_into(const std::string& name, const Shape& expected, std::span<float> out) const {
  const TensorInfo& t = info(name);
  GPT2_CHECK(t.shape == expected, file_name_, ": tensor '", name, "' has shape ", shape_to_string(t.shape),
             ", expected ", shape_to_string(expected));
  size_t n = static_cast<size_t>(shape_numel(t.shape));
  GPT2_CHECK(out.size() == n, "read_into('", name, "'): destination holds ", out.size(), " floats, need ", n);
  const char* src = bytes_.data() + data_start_ + t.begin;
  switch (t.dtype) {
    case DType::F32:
      std::memcpy(out.data(), src, n * 4);
      break;
    case DType::F16:
    case DType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        out[i] = t.dtype == DType::F16 ? f16_to_float(h) : bf16_to_float(h);
      }
      break;
    case DType::F64:
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, src + 8 * i, 8);
        out[i] = static_cast<float>(d);
      }
      break;
    default:
      fail(file_name_, ": tensor '", name, "' has dtype ", dtype_name(t.dtype), ", expected a float type");
  }
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const TensorInfo& t = info(name);
  Tensor out(t.shape);
  read_into(name, t.shape, out.span());
  return out;
}

std::vector<float> SafetensorsFile::get_vector(const std::string& name) const {
  return get(name).to_vector();
}

std::vector<int64_t> SafetensorsFile::get_int(const std::string& name) const {
  const TensorInfo& t = info(name);
  size_t n = static_cast<size_t>(shape_numel(t.shape));
  std::vector<int64_t> out(n);
  const char* src = bytes_.data() + data_start_ + t.begin;
  if (t.dtype == DType::I64) {
    std::memcpy(out.data(), src, n * 8);
  } else if (t.dtype == DType::I32) {
    for (size_t i = 0; i < n; ++i) {
      int32_t v;
      std::memcpy(&v, src + 4 * i, 4);
      out[i] = v;
    }
  } else {
    fail(file_name_, ": tensor '", name, "' has dtype ", dtype_name(t.dtype), ", expected I64 or I32");
  }
  return out;
}

std::vector<int8_t> SafetensorsFile::get_int8(const std::string& name) const {
  const TensorInfo& t = info(name);
  GPT2_CHECK(t.dtype == DType::I8, file_name_, ": tensor '", name, "' has dtype ", dtype_name(t.dtype),
             ", expected I8");
  std::vector<int8_t> out(static_cast<size_t>(shape_numel(t.shape)));
  std::memcpy(out.data(), bytes_.data() + data_start_ + t.begin, out.size());
  return out;
}

void SafetensorsWriter::add(const std::string& name, const Shape& shape, std::span<const float> values,
                            DType dtype) {
  GPT2_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "safetensors: tensor '", name,
             "' has ", values.size(), " values for shape ", shape_to_string(shape));
  GPT2_CHECK(dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16,
             "safetensors: can only write F32, F16 or BF16 floats");
  Entry e{name, dtype, shape, {}};
  if (dtype == DType::F32) {
    e.owned.assign(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  } else {
    e.owned.resize(values.size() * 2);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t h = dtype == DType::F16 ? float_to_f16(values[i]) : float_to_bf16(values[i]);
      std::memcpy(e.owned.data() + 2 * i, &h, 2);
    }
  }
  entries_.push_back(std::move(e));
}

void SafetensorsWriter::add_view(const std::string& name, const Shape& shape, std::span<const float> values) {
  GPT2_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "safetensors: tensor '", name,
             "' has ", values.size(), " values for shape ", shape_to_string(shape));
  Entry e{name, DType::F32, shape, {}};
  e.view = std::string_view(reinterpret_cast<const char*>(values.data()), values.size() * 4);
  e.is_view = true;
  entries_.push_back(std::move(e));
}

void SafetensorsWriter::add(const std::string& name, const Tensor& t, DType dtype) {
  std::vector<float> v = t.to_vector();
  add(name, t.shape(), v, dtype);
}

void SafetensorsWriter::add_int64(const std::string& name, const Shape& shape,
                                  std::span<const int64_t> values) {
  GPT2_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "safetensors: tensor '", name,
             "' has ", values.size(), " values for shape ", shape_to_string(shape));
  entries_.push_back({name, DType::I64, shape,
                      std::string(reinterpret_cast<const char*>(values.data()), values.size() * 8)});
}

void SafetensorsWriter::add_int8(const std::string& name, const Shape& shape,
                                 std::span<const int8_t> values) {
  GPT2_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape), "safetensors: tensor '", name,
             "' has ", values.size(), " values for shape ", shape_to_string(shape));
  entries_.push_back(
      {name, DType::I8, shape, std::string(reinterpret_cast<const char*>(values.data()), values.size())});
}

std::string SafetensorsWriter::header_bytes() const {
  // nlohmann::ordered_json keeps insertion order, so the header lists tensors as they lie on disk.
  nlohmann::ordered_json header = nlohmann::ordered_json::object();  // "{}", not "null", when empty
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Entry& e : entries_) {
    header[e.name] = {{"dtype", dtype_name(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes().size()}}};
    offset += e.bytes().size();
  }
  std::string text = header.dump();
  // Pad the header with spaces to a multiple of 8 bytes so the data is 8-byte aligned (as the
  // reference implementation does).
  while ((8 + text.size()) % 8 != 0) text += ' ';
  uint64_t n = text.size();
  return std::string(reinterpret_cast<const char*>(&n), 8) + text;
}

std::string SafetensorsWriter::serialize() const {
  std::string out = header_bytes();
  size_t size = out.size();
  for (const Entry& e : entries_) size += e.bytes().size();
  out.reserve(size);  // one allocation: growing a string of 500 MB by doubling copies it again and again
  for (const Entry& e : entries_) out += e.bytes();
  return out;
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  // The header, then each tensor's bytes from where they are: no second copy of the whole file.
  const std::string header = header_bytes();
  std::vector<std::string_view> pieces{header};
  for (const Entry& e : entries_) pieces.push_back(e.bytes());
  write_file_atomic(path, pieces);
}

}  // namespace gpt2
