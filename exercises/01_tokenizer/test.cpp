#include <algorithm>
#include <map>
#include <random>
#include <string>

#include "chapters/01_tokenizer/pretokenize.h"
#include "chapters/01_tokenizer/train_bpe.h"
#include "common/file_io.h"
#include "common/testing.h"
#include "exercise.h"
// Catch2 prints a failed comparison of merges, (left, right) pairs, only when asked to.
#define CATCH_CONFIG_ENABLE_PAIR_STRINGMAKER
#include "tests/catch.h"

namespace {
const gpt2::Tokenizer& gpt2_tok() {
  static const gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
  return tok;
}
std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = exercise::ascii_pretoken_end(text, pos);
    REQUIRE(end > pos);
    out.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("01.1 byte_to_unicode_table", "[exercise]") {
  const auto t = exercise::byte_to_unicode_table();
  CHECK(t[' '] == 0x120);   // 'Ġ', the space in " the" = "Ġthe"
  CHECK(t['\n'] == 0x10A);  // 'Ċ'
  CHECK(t[0] == 0x100);
  CHECK(t['A'] == 'A');
  CHECK(t[0xE9] == 0xE9);   // 'é' is printable Latin-1
  CHECK(t[0x7F] == 0x121);  // DEL comes after the 33 control characters and the space
  CHECK(t[0xAD] == 0x143);  // the soft hyphen is the 68th and last shifted byte
  // Every byte gets a different character.
  std::vector<uint32_t> sorted(t.begin(), t.end());
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
}

TEST_CASE("01.2 count_pairs and apply_merge", "[exercise]") {
  using P = std::map<std::pair<int, int>, int64_t>;
  CHECK(exercise::count_pairs({{1, 2, 1, 2}, {2, 1}}, {3, 1}) == P{{{1, 2}, 6}, {{2, 1}, 4}});
  CHECK(exercise::count_pairs({{7}, {}}, {5, 2}).empty());
  CHECK(exercise::count_pairs({{4, 4, 4}}, {1}) == P{{{4, 4}, 2}});
  CHECK(exercise::apply_merge({5, 5, 5, 7}, 5, 5, 9) == std::vector<int>{9, 5, 7});
  CHECK(exercise::apply_merge({5, 5, 5, 5}, 5, 5, 9) == std::vector<int>{9, 9});
  CHECK(exercise::apply_merge({1, 2, 3, 1, 2}, 1, 2, 8) == std::vector<int>{8, 3, 8});
  CHECK(exercise::apply_merge({2, 1}, 1, 2, 8) == std::vector<int>{2, 1});
  CHECK(exercise::apply_merge({}, 1, 2, 8).empty());
}

TEST_CASE("01.3 ascii_pretoken_end: contractions and trailing spaces", "[exercise]") {
  CHECK(split("it's") == V{"it", "'s"});
  CHECK(split("I'd I'm you're") == V{"I", "'d", " I", "'m", " you", "'re"});
  CHECK(split("we'll've") == V{"we", "'ll", "'ve"});
  CHECK(split("IT'S") == V{"IT", "'", "S"});
  CHECK(split("'sup") == V{"'s", "up"});
  CHECK(split("Hello, world!") == V{"Hello", ",", " world", "!"});
  CHECK(split("abc123def") == V{"abc", "123", "def"});
  CHECK(split("a  b") == V{"a", " ", " b"});
  CHECK(split("a\n\nb") == V{"a", "\n", "\n", "b"});
  CHECK(split("a \tb") == V{"a", " ", "\t", "b"});
  CHECK(split("end  ") == V{"end", "  "});
  // Against the chapter's pre-tokenizer on random ASCII strings.
  std::mt19937 rng(7);
  const std::string alphabet = "ab Z9'st\n\t.!re ll";
  for (int trial = 0; trial < 500; ++trial) {
    std::string s;
    for (int i = 0, n = static_cast<int>(rng() % 20) + 1; i < n; ++i) s += alphabet[rng() % alphabet.size()];
    std::vector<std::string> expected;
    for (auto p : gpt2::pretokenize(s)) expected.emplace_back(p);
    INFO("text '" << s << "'");
    CHECK(split(s) == expected);
  }
}

TEST_CASE("01.4 bpe_word gives GPT-2's tokens", "[exercise]") {
  const gpt2::Tokenizer& tok = gpt2_tok();
  CHECK(exercise::bpe_word("Hello", tok) == std::vector<int>{15496});
  CHECK(exercise::bpe_word(" world", tok) == std::vector<int>{995});
  CHECK(exercise::bpe_word(" tokenization", tok) == std::vector<int>{11241, 1634});
  CHECK(exercise::bpe_word("aaaaaaaaaaaaaaaaaaaa", tok) == tok.bpe("aaaaaaaaaaaaaaaaaaaa"));
  for (std::string w :
       {" Pneumonoultramicroscopicsilicovolcanoconiosis", " unbelievable", "'s", " 2024", "!!!!!"}) {
    INFO("word '" << w << "'");
    CHECK(exercise::bpe_word(w, tok) == tok.bpe(w));
  }
}

TEST_CASE("01.5 learn_merges learns the chapter's merges on Shakespeare", "[exercise]") {
  // By hand: in "aaab" x 2 and "ab" x 3, (a, a) occurs 4 times and (a, b) 5 times, so (a, b)
  // comes first (new id 10); then (a, a) and (a, 10) tie at 2 and the smaller right id wins; then (11, 10).
  using M = std::vector<std::pair<int, int>>;
  CHECK(exercise::learn_merges({{1, 1, 1, 2}, {1, 2}}, {2, 3}, 10, 1) == M{{1, 2}});
  CHECK(exercise::learn_merges({{1, 1, 1, 2}, {1, 2}}, {2, 3}, 10, 3) == M{{1, 2}, {1, 1}, {11, 10}});
  CHECK(exercise::learn_merges({{3, 4}, {1, 2}}, {1, 1}, 10, 1) == M{{1, 2}});  // a tie: smaller left id
  CHECK(exercise::learn_merges({{5}, {6, 7}}, {4, 1}, 10, 5) == M{{6, 7}});     // stops when nothing is left
  // Against the chapter's trainer (incremental counts and a heap): the first 4,000 bytes of tiny
  // Shakespeare, pre-tokenized, each distinct piece with its count.
  const std::string text = gpt2::read_file(gpt2::data_dir() + "/tinyshakespeare.txt").substr(0, 4000);
  const int n_merges = 40;
  const gpt2::Tokenizer trained = gpt2::train_bpe(text, 256 + n_merges + 1);  // + <|endoftext|>
  std::map<std::string, int64_t> pieces;
  for (std::string_view p : gpt2::pretokenize(text)) ++pieces[std::string(p)];
  std::vector<std::vector<int>> words;
  std::vector<int64_t> counts;
  for (const auto& [piece, count] : pieces) {
    std::vector<int> ids;
    for (char byte : piece) ids.push_back(trained.token_id(std::string_view(&byte, 1)));
    words.push_back(ids);
    counts.push_back(count);
  }
  CHECK(exercise::learn_merges(words, counts, 256, n_merges) == trained.merges());
}
