#include "token_file.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "common/file_io.h"

namespace gpt2 {

namespace {
constexpr char kMagic[8] = {'G', 'P', 'T', '2', 'T', 'O', 'K', 'S'};
constexpr uint32_t kVersion = 1;

template <typename T>
void append_value(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof(T));  // little-endian hosts only
}
}  // namespace

void write_token_file(const std::filesystem::path& path, std::span<const int32_t> ids, int bytes_per_token) {
  int32_t max_id = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    GPT2_CHECK(ids[i] >= 0, path.string(), ": token id ", ids[i], " at position ", i, " is negative");
    max_id = std::max(max_id, ids[i]);
  }
  if (bytes_per_token == 0) bytes_per_token = max_id < 65536 ? 2 : 4;
  GPT2_CHECK(bytes_per_token == 2 || bytes_per_token == 4, path.string(),
             ": bytes per token must be 2 or 4, not ", bytes_per_token);
  GPT2_CHECK(bytes_per_token == 4 || max_id < 65536, path.string(), ": token id ", max_id,
             " does not fit in 2 bytes per token");
  std::string bytes(kMagic, sizeof kMagic);
  append_value<uint32_t>(bytes, kVersion);
  append_value<uint32_t>(bytes, static_cast<uint32_t>(bytes_per_token));
  append_value<uint64_t>(bytes, ids.size());
  bytes.reserve(kTokenFileHeaderBytes + ids.size() * bytes_per_token);
  for (int32_t id : ids) {
    if (bytes_per_token == 2) {
      append_value<uint16_t>(bytes, static_cast<uint16_t>(id));
    } else {
      append_value<uint32_t>(bytes, static_cast<uint32_t>(id));
    }
  }
  write_file_atomic(path, bytes);
}

std::vector<int32_t> read_token_file(const std::filesystem::path& path) {
  BinaryReader in(path);
  const std::string name = path.string();
  GPT2_CHECK(in.size() >= kTokenFileHeaderBytes, name, ": not a token file (", in.size(),
             " bytes, shorter than the ", kTokenFileHeaderBytes, "-byte header)");
  char magic[8];
  in.read(magic, sizeof magic);
  GPT2_CHECK(std::memcmp(magic, kMagic, sizeof kMagic) == 0, name,
             ": not a token file (bad magic; expected the file to start with 'GPT2TOKS')");
  const uint32_t version = in.read_value<uint32_t>();
  GPT2_CHECK(version == kVersion, name, ": token file version ", version, " is not supported (expected ",
             kVersion, ")");
  const uint32_t width = in.read_value<uint32_t>();
  GPT2_CHECK(width == 2 || width == 4, name, ": bytes per token is ", width, ", expected 2 or 4");
  const uint64_t count = in.read_value<uint64_t>();
  const uint64_t payload = in.size() - kTokenFileHeaderBytes;
  GPT2_CHECK(count <= payload / width && count * width == payload, name, ": the header says ", count,
             " tokens of ", width, " bytes (", count * width, " bytes) but the file holds ", payload,
             " bytes after the header (truncated or corrupt)");
  std::vector<int32_t> ids(count);
  if (width == 4) {
    in.read(ids.data(), count * 4);
  } else {
    std::vector<uint16_t> narrow(count);
    in.read(narrow.data(), count * 2);
    for (size_t i = 0; i < count; ++i) ids[i] = narrow[i];
  }
  if (width == 4) {
    for (size_t i = 0; i < count; ++i) {
      GPT2_CHECK(ids[i] >= 0, name, ": token ", i, " has id ", static_cast<uint32_t>(ids[i]),
                 ", too large for an int32");
    }
  }
  return ids;
}

std::vector<int32_t> join_documents(const std::vector<std::vector<int32_t>>& documents, int32_t eot) {
  std::vector<int32_t> stream;
  for (const auto& doc : documents) {
    stream.push_back(eot);
    stream.insert(stream.end(), doc.begin(), doc.end());
  }
  return stream;
}

}  // namespace gpt2
