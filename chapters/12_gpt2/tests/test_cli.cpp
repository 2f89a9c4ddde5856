// The gpt2 program's commands, run in-process with string streams.
#include <filesystem>
#include <sstream>

#include "chapters/01_tokenizer/vocab_files.h"
#include "chapters/12_gpt2/args.h"
#include "chapters/12_gpt2/commands.h"
#include "chapters/12_gpt2/default_paths.h"
#include "chapters/12_gpt2/tests/cli_harness.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "tests/catch.h"

using gpt2_test::contains;
using gpt2_test::gpt2_run;
using gpt2_test::Result;

TEST_CASE("gpt2 encode and decode", "[cli]") {
  Result e = gpt2_run({"encode"}, "Hello world");
  CHECK(e.status == 0);
  CHECK(e.out == "15496 995\n");
  Result d = gpt2_run({"decode"}, "15496  995\n");
  CHECK(d.status == 0);
  CHECK(d.out == "Hello world");
  CHECK(gpt2_run({"encode"}, "").out == "\n");
  CHECK(gpt2_run({"encode"}, "a<|endoftext|>").out == "64 27 91 437 1659 5239 91 29\n");
  CHECK(gpt2_run({"encode", "--allow-special"}, "a<|endoftext|>").out == "64 50256\n");
  const std::string bytes = "caf\xC3\xA9 \xFF\xFE\n";
  CHECK(gpt2_run({"decode"}, gpt2_run({"encode"}, bytes).out).out == bytes);
}

TEST_CASE("gpt2: errors are clear and the status is non-zero", "[cli]") {
  Result r = gpt2_run({"decode"}, "15496 50257");
  CHECK(r.status == 1);
  CHECK(contains(r.err, "token id 50257 (input item 2) is out of range"));
  r = gpt2_run({"decode"}, "12 x3");
  CHECK(r.status == 1);
  CHECK(contains(r.err, "input item 2 is 'x3', expected a token id"));
  r = gpt2_run({"encode", "--bogus"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "gpt2 encode: unknown option '--bogus'"));
  r = gpt2_run({"encode", "--tokenizer"});
  CHECK(contains(r.err, "option '--tokenizer' needs a value"));
  r = gpt2_run({"encode", "--tokenizer", "/nonexistent/dir"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "tokenizer directory '/nonexistent/dir' has neither"));
  r = gpt2_run({"frobnicate"});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "unknown command 'frobnicate'"));
  r = gpt2_run({"tokenizer"});
  CHECK(r.status == 2);
  CHECK(contains(r.err, "incomplete command 'tokenizer'"));
  r = gpt2_run({"tokenizer", "train", "--input", "/nonexistent.txt", "--vocab-size", "300", "--out", "x"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "/nonexistent.txt"));
  r = gpt2_run({"tokenizer", "train", "--input", "a.txt", "--out", "x"});
  CHECK(contains(r.err, "missing required option '--vocab-size N'"));
  r = gpt2_run({"tokenizer", "train", "--input", "a.txt", "--vocab-size", "12x", "--out", "x"});
  CHECK(contains(r.err, "option '--vocab-size' expects an integer, got '12x'"));
  r = gpt2_run({"tokenizer", "train", "--input", "a.txt", "--vocab-size=100", "--out", "x"});
  CHECK(contains(r.err, "option '--vocab-size' must be between 256 and"));
}

TEST_CASE("gpt2 --help everywhere", "[cli]") {
  Result r = gpt2_run({"--help"});
  CHECK(r.status == 0);
  CHECK(contains(r.out, "tokenizer train"));
  CHECK(gpt2_run({}).status == 2);
  for (auto cmd :
       {std::vector<std::string>{"encode", "--help"}, {"decode", "--help"}, {"tokenizer", "train", "-h"}}) {
    r = gpt2_run(cmd);
    CHECK(r.status == 0);
    CHECK(contains(r.out, "usage: gpt2 "));
    CHECK(contains(r.out, "--help"));
  }
}

TEST_CASE("gpt2 tokenizer train, then encode and decode with it", "[cli]") {
  namespace fs = std::filesystem;
  const fs::path dir = gpt2::test_temp_dir("12_cli");
  const std::string text = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt").substr(0, 50000);
  gpt2::write_file_atomic(dir / "train.txt", text);
  Result r = gpt2_run({"tokenizer", "train", "--input", (dir / "train.txt").string(), "--vocab-size", "400",
                       "--out", (dir / "tok").string()});
  INFO(r.err);
  REQUIRE(r.status == 0);
  CHECK(fs::exists(dir / "tok" / "encoder.json"));
  CHECK(fs::exists(dir / "tok" / "vocab.bpe"));
  const std::string sample = "To be, or not to be: that is the question.\n";
  Result e = gpt2_run({"encode", "--tokenizer", (dir / "tok").string()}, sample);
  REQUIRE(e.status == 0);
  Result d = gpt2_run({"decode", "--tokenizer", (dir / "tok").string()}, e.out);
  CHECK(d.out == sample);
}

TEST_CASE("gpt2 tokenizer train never overwrites its input, nor a non-empty directory without --force",
          "[cli]") {
  namespace fs = std::filesystem;
  const fs::path dir = gpt2::test_temp_dir("12_cli_force");
  const std::string text = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt").substr(0, 5000);
  gpt2::create_directories(dir / "tok");
  gpt2::write_file_atomic(dir / "tok" / "notes.txt", "my notes");
  gpt2::write_file_atomic(dir / "encoder.json", text);  // a training text that happens to have this name
  auto train_into = [&](const std::string& input, const fs::path& out, bool force) {
    std::vector<std::string> args = {"tokenizer",    "train", "--input", input,
                                     "--vocab-size", "280",   "--out",   out.string()};
    if (force) args.push_back("--force");
    return gpt2_run(args);
  };
  Result r = train_into((dir / "encoder.json").string(), dir / "tok", false);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "gpt2 tokenizer train: --out: '" + (dir / "tok").string() + "' is not empty"));
  CHECK(!fs::exists(dir / "tok" / "encoder.json"));
  r = train_into((dir / "encoder.json").string(), dir / "tok", true);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(gpt2::read_file(dir / "tok" / "notes.txt") == "my notes");  // --force replaces only its own files
  r = train_into((dir / "encoder.json").string(), dir, true);
  CHECK(r.status == 1);
  CHECK(contains(r.err, "would overwrite --input '" + (dir / "encoder.json").string() + "'"));
  CHECK(gpt2::read_file(dir / "encoder.json") == text);
}

TEST_CASE("ArgParser: --name=value, defaults and flags", "[cli]") {
  gpt2::ArgParser p("t", "test");
  p.option("--a", "N", "a number", "7").flag("--f", "a flag").option("--s", "S", "a string");
  std::ostringstream help;
  std::vector<std::string> args{"--s=hello world", "--f"};
  REQUIRE(p.parse(args, help));
  CHECK(p.get("--s") == "hello world");
  CHECK(p.get_int("--a", 0, 10) == 7);
  CHECK(p.given("--f"));
  CHECK_FALSE(p.given("--a"));
}

TEST_CASE("the default tokenizer is found through GPT2_DATA_DIR, next to the program, or in the source tree",
          "[cli]") {
  namespace fs = std::filesystem;
  // A copy of the data directory elsewhere (as for a moved or installed program) wins when named.
  const fs::path elsewhere = gpt2::test_temp_dir("12_data_dir");
  fs::create_directories(elsewhere / "gpt2");
  fs::copy_file(gpt2::data_dir() + "/gpt2/encoder.json", elsewhere / "gpt2" / "encoder.json");
  fs::copy_file(gpt2::data_dir() + "/gpt2/vocab.bpe", elsewhere / "gpt2" / "vocab.bpe");
  ::setenv("GPT2_DATA_DIR", elsewhere.c_str(), 1);
  CHECK(gpt2::default_tokenizer_dir() == (elsewhere / "gpt2").string());
  CHECK(gpt2_run({"encode"}, "Hello world").out == "15496 995\n");
  // A GPT2_DATA_DIR without a tokenizer is passed over.
  ::setenv("GPT2_DATA_DIR", (elsewhere / "nothing").c_str(), 1);
  CHECK(gpt2::default_tokenizer_dir() != (elsewhere / "nothing" / "gpt2").string());
  ::unsetenv("GPT2_DATA_DIR");
  // Without it: next to the program (this test runs from build/bin, two levels below data/), and
  // the source tree last.
  const auto places = gpt2::tokenizer_search_path();
  REQUIRE(places.size() >= 2);
  CHECK(places.back() == fs::path(gpt2::data_dir() + "/gpt2").lexically_normal());
  CHECK(places.front().string().find("share/gpt2-cpp-course/gpt2") != std::string::npos);
  CHECK(gpt2::has_tokenizer_files(gpt2::default_tokenizer_dir()));
  fs::remove_all(elsewhere);
}
