/// @file file_io.h
/// @brief Checked file reading and writing: every failure names the file and what went wrong.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

/// The whole file as bytes. Throws gpt2::Error "cannot open 'x': No such file or directory".
std::string read_file(const std::filesystem::path& path);

/// The file's lines without their newlines (a final line without a newline is kept; a carriage return before
/// the newline is kept too).
std::vector<std::string> read_lines(const std::filesystem::path& path);

/// Writes bytes to `path` atomically: into `path.tmp` first, flushed to disk, then renamed over
/// `path`. A crash or a full disk in the middle leaves the old file untouched.
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

/// The same for a file made of several pieces, written one after the other: a large file (a
/// model's weights) is written from where its parts already are, not first joined into one copy.
void write_file_atomic(const std::filesystem::path& path, std::span<const std::string_view> pieces);

/// Reads a binary file piece by piece, with errors that say which file and which byte offset:
/// "tokens.bin: truncated at byte 1024 (wanted 4096 more bytes, the file has 2048)".
class BinaryReader {
 public:
  explicit BinaryReader(const std::filesystem::path& path);
  ~BinaryReader();
  BinaryReader(const BinaryReader&) = delete;
  BinaryReader& operator=(const BinaryReader&) = delete;

  /// Reads exactly n bytes into dst, or throws.
  void read(void* dst, size_t n);
  /// Reads one trivially copyable value (little-endian, the only byte order we build for).
  template <typename T>
  T read_value() {
    T v;
    read(&v, sizeof(T));
    return v;
  }
  void seek(uint64_t offset);
  uint64_t position() const { return position_; }
  uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;
  uint64_t position_ = 0;
};

/// A clear "cannot create directory" error instead of std::filesystem's exception text.
void create_directories(const std::filesystem::path& dir);

/// Whether `dir` exists and holds anything. Throws gpt2::Error ("`flag`: 'x' is a file, not a
/// directory") when it exists but is not a directory. The commands use it to refuse writing into
/// a directory that holds other things unless they are told to (`--force`).
bool directory_has_entries(const std::filesystem::path& dir, std::string_view flag);

/// Throws gpt2::Error when writing (or replacing) `output` would destroy `input`, because they
/// are the same file under any name (links included) or `output` is a directory holding `input`:
/// "gpt2 prepare: writing 'W/val.txt' would overwrite --input 'W/val.txt'". `who` starts the
/// message; `input_flag` names where the input came from.
void check_not_input(const std::filesystem::path& output, const std::filesystem::path& input,
                     std::string_view who, std::string_view input_flag);

/// Removes a file or a directory tree (nothing if it does not exist); a clear error otherwise.
void remove_all(const std::filesystem::path& path);

}  // namespace gpt2
