#include "file_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

#include "error.h"

namespace gpt2 {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::error_code ec;
  GPT2_CHECK(!fs::is_directory(path, ec), "cannot read '", path.string(), "': it is a directory");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  GPT2_CHECK(f != nullptr, "cannot open '", path.string(), "': ", std::strerror(errno));
  std::string bytes;
  char buffer[1 << 16];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) bytes.append(buffer, n);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  GPT2_CHECK(!failed, "error reading '", path.string(), "'");
  return bytes;
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::string text = read_file(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.emplace_back(text, start, end - start);
    start = end + 1;
  }
  return lines;
}

void write_file_atomic(const fs::path& path, std::string_view bytes) {
  write_file_atomic(path, std::span<const std::string_view>(&bytes, 1));
}

void write_file_atomic(const fs::path& path, std::span<const std::string_view> pieces) {
  fs::path tmp = path;
  tmp += ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  GPT2_CHECK(f != nullptr, "cannot create '", tmp.string(), "': ", std::strerror(errno));
  bool ok = true;
  for (std::string_view bytes : pieces)
    ok = ok && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  ok = ok && std::fflush(f) == 0;
  ok = ok && fsync(fileno(f)) == 0;  // the bytes are on disk before the rename makes them visible
  int saved_errno = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::remove(tmp.c_str());
    fail("cannot write '", tmp.string(), "': ", std::strerror(saved_errno));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    fail("cannot rename '", tmp.string(), "' to '", path.string(), "': ", ec.message());
  }
}

void create_directories(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  GPT2_CHECK(!ec, "cannot create directory '", dir.string(), "': ", ec.message());
}

bool directory_has_entries(const fs::path& dir, std::string_view flag) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return false;
  GPT2_CHECK(fs::is_directory(dir, ec), flag, ": '", dir.string(), "' is a file, not a directory");
  fs::directory_iterator it(dir, ec);
  GPT2_CHECK(!ec, flag, ": cannot read directory '", dir.string(), "': ", ec.message());
  return it != fs::directory_iterator();
}

void check_not_input(const fs::path& output, const fs::path& input, std::string_view who,
                     std::string_view input_flag) {
  std::error_code ec;
  const bool same = fs::exists(output, ec) && fs::exists(input, ec) && fs::equivalent(output, input, ec);
  // Inside: every component of the output's real path starts the input's real path.
  const fs::path out = fs::weakly_canonical(output, ec), in = fs::weakly_canonical(input, ec);
  auto [o, i] = std::mismatch(out.begin(), out.end(), in.begin(), in.end());
  const bool inside = o == out.end();
  GPT2_CHECK(!same && !inside, who, ": writing '", output.string(), "' would overwrite ", input_flag, " '",
             input.string(), "'");
}

void remove_all(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  GPT2_CHECK(!ec, "cannot remove '", path.string(), "': ", ec.message());
}

BinaryReader::BinaryReader(const fs::path& path) : path_(path) {
  std::error_code ec;
  GPT2_CHECK(!fs::is_directory(path, ec), "cannot read '", path.string(), "': it is a directory");
  file_ = std::fopen(path.c_str(), "rb");
  GPT2_CHECK(file_ != nullptr, "cannot open '", path.string(), "': ", std::strerror(errno));
  const bool seekable = std::fseek(file_, 0, SEEK_END) == 0;
  const long size = seekable ? std::ftell(file_) : -1;
  if (size < 0 || std::fseek(file_, 0, SEEK_SET) != 0) {
    std::fclose(file_);
    file_ = nullptr;
    fail("cannot read '", path.string(), "': not a regular file (its size is unknown)");
  }
  size_ = static_cast<uint64_t>(size);
}

BinaryReader::~BinaryReader() {
  if (file_) std::fclose(file_);
}

void BinaryReader::read(void* dst, size_t n) {
  // n <= size - position, not position + n <= size: a huge n must not wrap around.
  GPT2_CHECK(n <= size_ - position_, path_.string(), ": truncated at byte ", position_, " (wanted ", n,
             " more bytes, the file has ", size_, ")");
  size_t got = std::fread(dst, 1, n, file_);
  GPT2_CHECK(got == n, path_.string(), ": read error at byte ", position_);
  position_ += n;
}

void BinaryReader::seek(uint64_t offset) {
  GPT2_CHECK(offset <= size_, path_.string(), ": seek to byte ", offset, " past the end (", size_, " bytes)");
  std::fseek(file_, static_cast<long>(offset), SEEK_SET);
  position_ = offset;
}

}  // namespace gpt2
