// GPT-2's ids against OpenAI's tiktoken: the fixtures were written by
// tests/reference/01_tokenizer_fixtures.js (tiktoken's gpt2 encoding).
#include <nlohmann/json.hpp>

#include <random>

#include "chapters/01_tokenizer/byte_unicode.h"
#include "chapters/01_tokenizer/pretokenize.h"
#include "common/file_io.h"
#include "gpt2_tokenizer.h"
#include "tests/catch.h"

using gpt2::Tokenizer;

namespace {
nlohmann::json strings_fixture() {
  return nlohmann::json::parse(gpt2::read_file(gpt2::fixture_dir() + "/01_tokenizer_strings.json"));
}
std::string escaped(const std::string& s) {
  return nlohmann::json(s).dump();
}
}  // namespace

TEST_CASE("byte-to-unicode table matches GPT-2's", "[tokenizer]") {
  const auto& map = gpt2::byte_to_unicode();
  CHECK(map[' '] == 0x120);   // 'Ġ'
  CHECK(map['\n'] == 0x10A);  // 'Ċ'
  CHECK(map['A'] == 'A');
  CHECK(map[0] == 0x100);
  CHECK(map[0xAD] == 0x143);  // the last of the 68 shifted bytes
  CHECK(gpt2::byte_order()[0] == '!');
  CHECK(gpt2::byte_order()[220] == ' ');
  CHECK(gpt2::bytes_to_unicode_string(" the\n") == "\xC4\xA0the\xC4\x8A");
  // ids 0..255 of GPT-2's vocabulary are the bytes in this order.
  for (int i = 0; i < 256; ++i)
    CHECK(gpt2_tokenizer().token_bytes(i) == std::string(1, static_cast<char>(gpt2::byte_order()[i])));
}

TEST_CASE("GPT-2 vocabulary: sizes and the end-of-text token", "[tokenizer]") {
  const Tokenizer& tok = gpt2_tokenizer();
  CHECK(tok.vocab_size() == 50257);
  CHECK(tok.merges().size() == 50000);
  CHECK(tok.eot_id() == 50256);
  CHECK(tok.token_bytes(50256) == "<|endoftext|>");
  CHECK(tok.token_bytes(262) == " the");
  CHECK(tok.encode("Hello world") == std::vector<int>{15496, 995});
}

TEST_CASE("exact tiktoken ids on hand-picked and random strings", "[tokenizer][parity]") {
  const Tokenizer& tok = gpt2_tokenizer();
  nlohmann::json fx = strings_fixture();
  REQUIRE(fx["cases"].size() >= 150);
  for (const auto& c : fx["cases"]) {
    const std::string text = c["text"];
    const std::vector<int> expected = c["ids"];
    INFO("text " << escaped(text));
    CHECK(tok.encode(text) == expected);
    CHECK(tok.decode(expected) == text);
  }
}

TEST_CASE("<|endoftext|> is text by default and id 50256 when allowed", "[tokenizer][parity]") {
  const Tokenizer& tok = gpt2_tokenizer();
  nlohmann::json fx = strings_fixture();
  for (const auto& c : fx["special_cases"]) {
    const std::string text = c["text"];
    const std::vector<int> expected = c["ids"];
    INFO("text " << escaped(text));
    CHECK(tok.encode(text, /*allow_special=*/true) == expected);
    CHECK(tok.decode(expected) == text);
  }
  CHECK(tok.encode("<|endoftext|>") == std::vector<int>{27, 91, 437, 1659, 5239, 91, 29});
}

TEST_CASE("exact tiktoken ids on all of tiny Shakespeare", "[tokenizer][parity]") {
  const Tokenizer& tok = gpt2_tokenizer();
  const std::string text = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt");
  const std::string raw = gpt2::read_file(gpt2::fixture_dir() + "/01_tokenizer_shakespeare.u16");
  REQUIRE(raw.size() == 2 * 338025);
  std::vector<int> expected(raw.size() / 2);
  for (size_t i = 0; i < expected.size(); ++i)
    expected[i] = static_cast<unsigned char>(raw[2 * i]) | (static_cast<unsigned char>(raw[2 * i + 1]) << 8);
  const std::vector<int> ids = tok.encode(text);
  REQUIRE(ids.size() == expected.size());
  size_t first_diff = 0;
  while (first_diff < ids.size() && ids[first_diff] == expected[first_diff]) ++first_diff;
  INFO("first difference at token " << first_diff);
  CHECK(first_diff == ids.size());
  CHECK(tok.decode(ids) == text);
  SECTION("the parallel encoder gives the same ids on any number of threads") {
    for (int threads : {1, 2, 3, 7}) CHECK(gpt2::encode_parallel(tok, text, threads) == expected);
  }
}

TEST_CASE("the whole-token shortcut agrees with BPE for every GPT-2 token", "[tokenizer]") {
  // encode() maps a pre-token that is itself a token straight to its id (as tiktoken does).
  // That is only right if BPE would have produced that one token anyway; check all 50,000.
  const Tokenizer& tok = gpt2_tokenizer();
  int disagreements = 0;
  for (int id = 256; id < 50256; ++id) {
    std::vector<int> ids = tok.bpe(tok.token_bytes(id));
    if (ids.size() != 1 || ids[0] != id) ++disagreements;
  }
  CHECK(disagreements == 0);
}

TEST_CASE("decode(encode(x)) == x for random bytes, invalid UTF-8 included", "[tokenizer]") {
  const Tokenizer& tok = gpt2_tokenizer();
  std::mt19937 rng(1234);
  const std::string alphabet = "aeiou xyz'\n\t.,!0123456789\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC2\x85";
  for (int trial = 0; trial < 300; ++trial) {
    std::string s;
    const int len = static_cast<int>(rng() % 200);
    for (int i = 0; i < len; ++i) {
      // Half the characters are arbitrary bytes (mostly invalid UTF-8), half from a text-like set.
      s += (rng() % 2) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    }
    INFO("bytes " << escaped(gpt2::bytes_to_unicode_string(s)));
    CHECK(tok.decode(tok.encode(s)) == s);
    CHECK(tok.decode(tok.encode(s, true)) == s);
  }
  std::string all;
  for (int i = 255; i >= 0; --i) all += static_cast<char>(i);
  CHECK(tok.decode(tok.encode(all)) == all);
}

TEST_CASE("decode rejects ids outside the vocabulary", "[tokenizer]") {
  const Tokenizer& tok = gpt2_tokenizer();
  std::vector<int> bad{15496, 50257};
  CHECK_ERROR(tok.decode(bad), "token id 50257 at position 1 is out of range");
  std::vector<int> negative{-1};
  CHECK_ERROR(tok.decode(negative), "token id -1");
  CHECK_ERROR(tok.token_bytes(60000), "out of range");
  CHECK(tok.decode(std::vector<int>{}).empty());
}

TEST_CASE("a merged token longer than the lookup table's keys (64 KB) still encodes to its id",
          "[tokenizer]") {
  // Merges that double "a" 17 times: the last makes a token of 2^17 = 131072 bytes, longer than
  // the longest key the whole-token table stores (StringToIds::kMaxLength). Merging must still
  // give that token's id, never -1.
  const int a = static_cast<int>(std::find(gpt2::byte_order().begin(), gpt2::byte_order().end(), 'a') -
                                 gpt2::byte_order().begin());
  std::vector<std::pair<int, int>> merges;
  for (int r = 0, id = a; r < 17; ++r, id = 256 + r - 1) merges.emplace_back(id, id);
  const gpt2::Tokenizer tok = gpt2::Tokenizer::from_merges(merges);
  REQUIRE(tok.token_bytes(256 + 16).size() == 131072);
  for (size_t n : {size_t{65535}, size_t{65536}, size_t{131072}, size_t{131072 + 3}}) {
    INFO(n << " bytes of 'a'");
    const std::string text(n, 'a');
    const std::vector<int> ids = tok.encode(text);
    for (int id : ids) REQUIRE(id >= 0);
    CHECK(tok.decode(ids) == text);
    CHECK(ids == tok.bpe(text));
  }
  CHECK(tok.encode(std::string(131072, 'a')) == std::vector<int>{256 + 16});
}
