// Fuzz target: the safetensors reader (common/safetensors.h) on arbitrary bytes. A file that
// parses must let every float tensor be read, and write back and read again to the same values.
#include <cstring>
#include <optional>

#include "common/safetensors.h"
#include "fuzz/fuzz_util.h"

namespace {
bool is_float(gpt2::DType d) {
  return d == gpt2::DType::F32 || d == gpt2::DType::F16 || d == gpt2::DType::BF16 || d == gpt2::DType::F64;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<gpt2::SafetensorsFile> file;
  try {
    file.emplace(
        gpt2::SafetensorsFile::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz"));
  } catch (const gpt2::Error&) {
    return 0;
  }
  gpt2::SafetensorsWriter writer;
  for (const std::string& name : file->names()) {
    const gpt2::TensorInfo& info = file->info(name);
    if (is_float(info.dtype)) {
      const gpt2::Tensor t = file->get(name);  // must not throw: the header was validated
      FUZZ_CHECK(t.numel() * static_cast<int64_t>(gpt2::dtype_size(info.dtype)) ==
                 static_cast<int64_t>(info.end - info.begin));
      writer.add(name, t);
    } else if (info.dtype == gpt2::DType::I64 || info.dtype == gpt2::DType::I32) {
      FUZZ_CHECK(file->get_int(name).size() * gpt2::dtype_size(info.dtype) == info.end - info.begin);
    }
  }
  // What we write, we read back: the same names, shapes and (F32) bits.
  const gpt2::SafetensorsFile again = gpt2::SafetensorsFile::parse(writer.serialize(), "fuzz (rewritten)");
  for (const std::string& name : again.names()) {
    const gpt2::Tensor a = file->get(name), b = again.get(name);
    FUZZ_CHECK(a.shape() == b.shape());
    FUZZ_CHECK(std::memcmp(a.data(), b.data(), static_cast<size_t>(a.numel()) * 4) == 0);
  }
  return 0;
}
