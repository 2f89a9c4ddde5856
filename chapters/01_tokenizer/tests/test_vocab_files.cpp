// Loading and saving vocabulary files: both naming schemes, round trips, and clear errors.
#include <nlohmann/json.hpp>

#include <filesystem>

#include "chapters/01_tokenizer/byte_unicode.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "gpt2_tokenizer.h"
#include "tests/catch.h"

namespace fs = std::filesystem;
using gpt2::Tokenizer;

namespace {

fs::path fresh_dir(const std::string& name) {
  return gpt2::test_temp_dir("01_" + name);
}

// A small valid vocabulary: the 256 bytes, merges "a b" -> "ab" and "ab c" -> "abc", <|endoftext|>.
std::string small_encoder_json() {
  std::string json = "{\n";
  for (int i = 0; i < 256; ++i) {
    std::string tok = gpt2::bytes_to_unicode_string(std::string(1, static_cast<char>(gpt2::byte_order()[i])));
    json += nlohmann::json(tok).dump() + ": " + std::to_string(i) + ",\n";
  }
  return json + "\"ab\": 256, \"abc\": 257, \"<|endoftext|>\": 258}\n";
}
const char* kSmallMerges = "#version: 0.2\na b\nab c\n";

fs::path write_vocab(const std::string& name, const std::string& json, const std::string& merges,
                     bool hugging_face_names = false) {
  fs::path d = fresh_dir(name);
  gpt2::write_file_atomic(d / (hugging_face_names ? "vocab.json" : "encoder.json"), json);
  gpt2::write_file_atomic(d / (hugging_face_names ? "merges.txt" : "vocab.bpe"), merges);
  return d;
}

}  // namespace

TEST_CASE("a small vocabulary loads under both naming schemes", "[vocab]") {
  for (bool hf : {false, true}) {
    Tokenizer tok =
        Tokenizer::load(write_vocab(hf ? "hf" : "openai", small_encoder_json(), kSmallMerges, hf));
    CHECK(tok.vocab_size() == 259);
    CHECK(tok.eot_id() == 258);
    CHECK(tok.merges().size() == 2);
    CHECK(tok.encode("abc abcd") == std::vector<int>{257, tok.token_id(" "), 257, tok.token_id("d")});
    CHECK(tok.encode("<|endoftext|>", true) == std::vector<int>{258});
  }
}

TEST_CASE("GPT-2's vocabulary survives save and load unchanged", "[vocab]") {
  const Tokenizer& tok = gpt2_tokenizer();
  fs::path d = fresh_dir("saved_gpt2");
  tok.save(d);
  // Byte-identical to OpenAI's vocab.bpe; encoder.json differs only in formatting, so compare content.
  CHECK(gpt2::read_file(d / "vocab.bpe") == gpt2::read_file(gpt2::data_dir() + "/gpt2/vocab.bpe"));
  auto ours = nlohmann::json::parse(gpt2::read_file(d / "encoder.json"));
  auto theirs = nlohmann::json::parse(gpt2::read_file(gpt2::data_dir() + "/gpt2/encoder.json"));
  CHECK(ours == theirs);
  Tokenizer again = Tokenizer::load(d);
  CHECK(again.encode("Saved and loaded, it's the same. 123") ==
        tok.encode("Saved and loaded, it's the same. 123"));
}

TEST_CASE("malformed vocabulary files give errors naming the file and the line", "[vocab]") {
  const std::string json = small_encoder_json();
  CHECK_ERROR(Tokenizer::load(fresh_dir("empty")), "has neither encoder.json + vocab.bpe");
  CHECK_ERROR(Tokenizer::load(write_vocab("bad_json", "{\n\"a\": 1,\n\n  oops}", kSmallMerges)),
              "encoder.json line 4: not valid JSON");
  CHECK_ERROR(Tokenizer::load(write_vocab("not_object", "[1, 2]", kSmallMerges)), "expected a JSON object");
  CHECK_ERROR(Tokenizer::load(
                  write_vocab("bad_id", json.substr(0, json.size() - 2) + ", \"zz\": \"x\"}", kSmallMerges)),
              "the id of token 'zz' is \"x\", expected an integer");
  CHECK_ERROR(Tokenizer::load(
                  write_vocab("big_id", json.substr(0, json.size() - 2) + ", \"zz\": 400}", kSmallMerges)),
              "token 'zz' has id 400, expected ids 0..259");
  CHECK_ERROR(Tokenizer::load(
                  write_vocab("bad_char", json.substr(0, json.size() - 2) + ", \"a b\": 259}", kSmallMerges)),
              "token 'a b' (id 259) contains U+0020, which is not in GPT-2's byte-to-unicode alphabet");
  CHECK_ERROR(Tokenizer::load(write_vocab("one_part", json, "#version: 0.2\na b\nabc\n")),
              "vocab.bpe line 3: expected a merge 'A B' (two tokens separated by one space), got 'abc'");
  CHECK_ERROR(Tokenizer::load(write_vocab("unknown", json, "#version: 0.2\na b\nab q\nq r\n")),
              "vocab.bpe line 3: merged token 'abq' is not in");
  CHECK_ERROR(Tokenizer::load(write_vocab("hf_unknown", json, "#version: 0.2\nab xyz\n", true)),
              "merges.txt line 2: token 'xyz' is not in");
  CHECK_ERROR(Tokenizer::load(write_vocab("twice", json, "#version: 0.2\na b\nab c\na b\n")),
              "vocab.bpe line 4: the token 'ab' is made by an earlier merge already");
  // Every JSON error names the file, not only syntax errors: a number too large for a double is
  // nlohmann's out_of_range, not its parse_error.
  CHECK_ERROR(Tokenizer::load(write_vocab("huge_number", "{\"a\": 1e999}", kSmallMerges)),
              "encoder.json: not valid JSON (");
}

TEST_CASE("a directory holds one tokenizer: one rule picks its files, two different pairs are refused",
          "[vocab]") {
  const std::string json = small_encoder_json();
  const std::string other_merges = "#version: 0.2\na b\n";  // a different tokenizer: no "abc"
  // Both pairs, different content: no reader may silently pick one (the copy and the load would
  // then disagree about which tokenizer the directory holds).
  fs::path both = write_vocab("two_pairs", json, kSmallMerges);
  gpt2::write_file_atomic(both / "vocab.json", json);
  gpt2::write_file_atomic(both / "merges.txt", other_merges);
  CHECK_ERROR(gpt2::find_tokenizer_files(both), "holds two different tokenizers");
  CHECK_ERROR(Tokenizer::load(both), "holds two different tokenizers");
  // Both pairs with the same bytes are one tokenizer under two names.
  gpt2::write_file_atomic(both / "merges.txt", kSmallMerges);
  CHECK(Tokenizer::load(both).merges().size() == 2);
  // An incomplete second pair is not a tokenizer: the complete one is used.
  fs::path lone = write_vocab("lone_file", json, kSmallMerges, /*hugging_face_names=*/true);
  gpt2::write_file_atomic(lone / "encoder.json", "not even JSON");
  CHECK(gpt2::find_tokenizer_files(lone).vocab == lone / "vocab.json");
  CHECK(Tokenizer::load(lone).merges().size() == 2);
  CHECK(gpt2::has_tokenizer_files(lone));
  CHECK(!gpt2::has_tokenizer_files(fresh_dir("no_files")));
  // save() leaves exactly one pair: a tokenizer saved over another replaces it, names and all.
  fs::path over = write_vocab("saved_over", json, other_merges, /*hugging_face_names=*/true);
  Tokenizer::load(write_vocab("source", json, kSmallMerges)).save(over);
  CHECK(!fs::exists(over / "vocab.json"));
  CHECK(!fs::exists(over / "merges.txt"));
  CHECK(Tokenizer::load(over).merges().size() == 2);
}
