#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace fs = std::filesystem;

namespace {
fs::path temp_dir() {
  static const fs::path d = gpt2::test_temp_dir("file_io");
  return d;
}
}  // namespace

TEST_CASE("write_file_atomic then read_file round-trips binary bytes", "[file_io]") {
  fs::path p = temp_dir() / "bytes.bin";
  std::string bytes("a\0b\xff\n\r", 6);
  gpt2::write_file_atomic(p, bytes);
  CHECK(gpt2::read_file(p) == bytes);
  CHECK(!fs::exists(p.string() + ".tmp"));
  gpt2::write_file_atomic(p, "new");
  CHECK(gpt2::read_file(p) == "new");
}

TEST_CASE("write_file_atomic writes its pieces one after the other", "[file_io]") {
  fs::path p = temp_dir() / "pieces.bin";
  const std::string a("head\0", 5), b, c(100000, 'z');
  const std::vector<std::string_view> pieces{a, b, c};
  gpt2::write_file_atomic(p, pieces);
  CHECK(gpt2::read_file(p) == a + b + c);
  CHECK(!fs::exists(p.string() + ".tmp"));
  gpt2::write_file_atomic(p, std::span<const std::string_view>());
  CHECK(gpt2::read_file(p).empty());
}

TEST_CASE("a failed atomic write leaves the old file intact", "[file_io]") {
  fs::path dir = temp_dir() / "old";
  fs::create_directories(dir);
  fs::path p = dir / "keep.txt";
  gpt2::write_file_atomic(p, "precious");
  // Make the temporary file impossible to create: a directory of that name already exists.
  fs::create_directories(p.string() + ".tmp");
  CHECK_THROWS_AS(gpt2::write_file_atomic(p, "overwrite"), gpt2::Error);
  const std::vector<std::string_view> pieces{"over", "write"};
  CHECK_THROWS_AS(gpt2::write_file_atomic(p, pieces), gpt2::Error);
  CHECK(gpt2::read_file(p) == "precious");
  fs::remove_all(p.string() + ".tmp");
}

TEST_CASE("read errors name the file", "[file_io]") {
  fs::path missing = temp_dir() / "does_not_exist.txt";
  try {
    gpt2::read_file(missing);
    FAIL("no exception");
  } catch (const gpt2::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("does_not_exist.txt") != std::string::npos);
    CHECK(msg.find("No such file") != std::string::npos);
  }
  CHECK_THROWS_AS(gpt2::read_file(temp_dir()), gpt2::Error);
}

TEST_CASE("read_lines splits on newlines and keeps a last unterminated line", "[file_io]") {
  fs::path p = temp_dir() / "lines.txt";
  gpt2::write_file_atomic(p, "one\ntwo\r\n\nlast");
  auto lines = gpt2::read_lines(p);
  REQUIRE(lines.size() == 4);
  CHECK(lines[0] == "one");
  CHECK(lines[1] == "two\r");
  CHECK(lines[2].empty());
  CHECK(lines[3] == "last");
}

TEST_CASE("BinaryReader reads values and reports truncation with the offset", "[file_io]") {
  fs::path p = temp_dir() / "values.bin";
  uint32_t values[3] = {7, 8, 9};
  gpt2::write_file_atomic(p, std::string(reinterpret_cast<const char*>(values), sizeof values));
  gpt2::BinaryReader r(p);
  CHECK(r.size() == 12);
  CHECK(r.read_value<uint32_t>() == 7);
  CHECK(r.read_value<uint32_t>() == 8);
  CHECK(r.position() == 8);
  try {
    r.read_value<uint64_t>();
    FAIL("no exception");
  } catch (const gpt2::Error& e) {
    std::string msg = e.what();
    CHECK(msg.find("values.bin") != std::string::npos);
    CHECK(msg.find("truncated at byte 8") != std::string::npos);
  }
  r.seek(8);
  CHECK(r.read_value<uint32_t>() == 9);
  CHECK_THROWS_AS(r.seek(13), gpt2::Error);
}

TEST_CASE("BinaryReader: a huge read length is truncation, not a wrapped-around offset", "[file_io]") {
  fs::path p = temp_dir() / "huge.bin";
  gpt2::write_file_atomic(p, std::string(16, 'x'));
  gpt2::BinaryReader r(p);
  char buffer[16];
  r.read(buffer, 8);
  // position 8 + (2^64 - 5) wraps around to 3 in 64 bits, which is "inside" the file.
  CHECK_THROWS_WITH(r.read(buffer, SIZE_MAX - 4), Catch::Contains("truncated at byte 8"));
  CHECK(r.position() == 8);
}

TEST_CASE("check_not_input: the same file under another name, or a directory holding the input",
          "[file_io]") {
  const fs::path d = gpt2::test_temp_dir("not_input");
  gpt2::write_file_atomic(d / "in.txt", "precious");
  fs::create_hard_link(d / "in.txt", d / "hard.txt");
  fs::create_symlink(d / "in.txt", d / "soft.txt");
  for (const char* same : {"in.txt", "hard.txt", "soft.txt", "./in.txt"}) {
    INFO(same);
    CHECK_THROWS_WITH(gpt2::check_not_input(d / same, d / "in.txt", "cmd", "--input"),
                      Catch::Contains("would overwrite --input"));
  }
  CHECK_THROWS_WITH(gpt2::check_not_input(d, d / "in.txt", "cmd", "--input"),
                    Catch::StartsWith("cmd: writing"));
  CHECK_NOTHROW(gpt2::check_not_input(d / "out.txt", d / "in.txt", "cmd", "--input"));
  CHECK_NOTHROW(
      gpt2::check_not_input(d / "in", d / "in.txt", "cmd", "--input"));  // a prefix of the name only
  CHECK(gpt2::directory_has_entries(d, "--out"));
  CHECK(!gpt2::directory_has_entries(d / "missing", "--out"));
  CHECK_THROWS_WITH(gpt2::directory_has_entries(d / "in.txt", "--out"),
                    Catch::Contains("is a file, not a directory"));
}

namespace {
// A full disk, simulated for this process: a file may not grow past `bytes` (the write fails with
// EFBIG rather than ENOSPC, which the program treats the same way).
struct FileSizeLimit {
  rlimit saved{};
  explicit FileSizeLimit(rlim_t bytes) {
    std::signal(SIGXFSZ, SIG_IGN);  // fail the write instead of killing the process
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit limit = saved;
    limit.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &saved); }
};
}  // namespace

TEST_CASE("a full disk during an atomic write: a clear error, the old file intact, no temporary left",
          "[file_io]") {
  const fs::path d = gpt2::test_temp_dir("full_disk");
  gpt2::write_file_atomic(d / "keep.bin", "precious");
  {
    FileSizeLimit full(1000);
    CHECK_THROWS_WITH(gpt2::write_file_atomic(d / "keep.bin", std::string(5000, 'x')),
                      Catch::StartsWith("cannot write '" + (d / "keep.bin.tmp").string() + "'"));
  }
  CHECK(gpt2::read_file(d / "keep.bin") == "precious");
  CHECK(!fs::exists(d / "keep.bin.tmp"));
}
