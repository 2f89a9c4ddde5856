// The token file format: round trips in both widths, and a clear error for each kind of damage.
#include <filesystem>
#include <string>
#include <vector>

#include "chapters/06_training/token_file.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "tests/catch.h"

using namespace gpt2;
namespace fs = std::filesystem;

namespace {
fs::path temp(const std::string& name) {
  static const fs::path dir = gpt2::test_temp_dir("06_token_file");
  return dir / name;
}
}  // namespace

TEST_CASE("token files round-trip with 2 and 4 bytes per token", "[token_file]") {
  const std::vector<int32_t> small{50256, 0, 1, 65535, 464, 50256};
  write_token_file(temp("a.bin"), small);
  CHECK(read_token_file(temp("a.bin")) == small);
  CHECK(fs::file_size(temp("a.bin")) == kTokenFileHeaderBytes + 2 * small.size());  // 2 bytes picked

  const std::vector<int32_t> big{1, 70000, 100000};
  write_token_file(temp("b.bin"), big);
  CHECK(read_token_file(temp("b.bin")) == big);
  CHECK(fs::file_size(temp("b.bin")) == kTokenFileHeaderBytes + 4 * big.size());
  write_token_file(temp("c.bin"), small, 4);
  CHECK(read_token_file(temp("c.bin")) == small);
  write_token_file(temp("empty.bin"), std::vector<int32_t>{});
  CHECK(read_token_file(temp("empty.bin")).empty());

  // The header as documented: magic, version 1, width, count.
  std::string bytes = read_file(temp("a.bin"));
  CHECK(bytes.substr(0, 8) == "GPT2TOKS");
  CHECK((bytes[8] == 1 && bytes[12] == 2 && bytes[16] == 6));
}

TEST_CASE("token files: bad input gives a clear error", "[token_file]") {
  CHECK_THROWS_WITH(write_token_file(temp("x.bin"), std::vector<int32_t>{1, 70000}, 2),
                    Catch::Contains("70000 does not fit in 2 bytes"));
  CHECK_THROWS_WITH(write_token_file(temp("x.bin"), std::vector<int32_t>{1, -5}),
                    Catch::Contains("token id -5 at position 1 is negative"));
  CHECK_THROWS_WITH(write_token_file(temp("x.bin"), std::vector<int32_t>{1}, 3),
                    Catch::Contains("must be 2 or 4"));

  const std::vector<int32_t> ids{10, 20, 30, 40};
  write_token_file(temp("good.bin"), ids);
  const std::string good = read_file(temp("good.bin"));

  write_file_atomic(temp("bad.bin"), "GPT2TOKX" + good.substr(8));
  CHECK_THROWS_WITH(read_token_file(temp("bad.bin")), Catch::Contains("bad magic"));
  write_file_atomic(temp("bad.bin"), good.substr(0, good.size() - 1));
  CHECK_THROWS_WITH(read_token_file(temp("bad.bin")), Catch::Contains("truncated"));
  write_file_atomic(temp("bad.bin"), good + "xx");
  CHECK_THROWS_WITH(read_token_file(temp("bad.bin")), Catch::Contains("holds 10 bytes after the header"));
  write_file_atomic(temp("bad.bin"), good.substr(0, 10));
  CHECK_THROWS_WITH(read_token_file(temp("bad.bin")), Catch::Contains("shorter than the 24-byte header"));
  std::string v2 = good;
  v2[8] = 2;
  write_file_atomic(temp("bad.bin"), v2);
  CHECK_THROWS_WITH(read_token_file(temp("bad.bin")), Catch::Contains("version 2 is not supported"));
  std::string w3 = good;
  w3[12] = 3;
  write_file_atomic(temp("bad.bin"), w3);
  CHECK_THROWS_WITH(read_token_file(temp("bad.bin")), Catch::Contains("bytes per token is 3"));
  std::string huge = good;  // a count so large that count * width overflows must not pass
  for (int i = 16; i < 24; ++i) huge[i] = '\xff';
  write_file_atomic(temp("bad.bin"), huge);
  CHECK_THROWS_WITH(read_token_file(temp("bad.bin")), Catch::Contains("truncated"));
  CHECK_THROWS_WITH(read_token_file(temp("missing.bin")), Catch::Contains("missing.bin"));
  for (const char* f : {"a.bin", "b.bin", "c.bin", "empty.bin", "good.bin", "bad.bin"}) fs::remove(temp(f));
}

TEST_CASE("join_documents puts <|endoftext|> before every document", "[token_file]") {
  CHECK(join_documents({{1, 2}, {3}, {}}) == std::vector<int32_t>{50256, 1, 2, 50256, 3, 50256});
  CHECK(join_documents({{7}}, 0) == std::vector<int32_t>{0, 7});
}
