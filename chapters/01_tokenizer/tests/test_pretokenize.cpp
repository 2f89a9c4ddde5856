// The pre-tokenizer against splits worked out by hand from the regex's rules (pretokenize.h).
// Its agreement with tiktoken on hundreds of strings is checked through the ids in
// test_tokenizer.cpp.
#include <string>
#include <vector>

#include "chapters/01_tokenizer/pretokenize.h"
#include "tests/catch.h"

using gpt2::pretokenize;

namespace {
std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  for (auto p : pretokenize(s)) out.emplace_back(p);
  return out;
}
using V = std::vector<std::string>;
}  // namespace

TEST_CASE("pretokenize: words keep one leading space", "[pretokenize]") {
  CHECK(split("Hello world") == V{"Hello", " world"});
  CHECK(split("Hello, world!") == V{"Hello", ",", " world", "!"});
  CHECK(split(" a") == V{" a"});
  CHECK(split("abc123def") == V{"abc", "123", "def"});
  CHECK(split(" 42 ...") == V{" 42", " ..."});
}

TEST_CASE("pretokenize: contractions, lower case only, only at a token start", "[pretokenize]") {
  CHECK(split("it's") == V{"it", "'s"});
  CHECK(split("we'll've") == V{"we", "'ll", "'ve"});
  CHECK(split("IT'S") == V{"IT", "'", "S"});
  CHECK(split("'sup") == V{"'s", "up"});
  CHECK(split("!'s") == V{"!'", "s"});  // the apostrophe joined a punctuation run first
  CHECK(split(" 's") == V{" '", "s"});  // a space cannot precede a contraction
}

TEST_CASE("pretokenize: runs of white space give their last space to the next word", "[pretokenize]") {
  CHECK(split("a  b") == V{"a", " ", " b"});
  CHECK(split("a   b") == V{"a", "  ", " b"});
  CHECK(split("a\n\nb") == V{"a", "\n", "\n", "b"});  // "\n" cannot join "b": rule 6 takes it alone
  CHECK(split("a \tb") == V{"a", " ", "\t", "b"});
  CHECK(split("a\t b") == V{"a", "\t", " b"});
  CHECK(split("a  ") == V{"a", "  "});  // at the end of the text the run stays whole
  CHECK(split("a \n") == V{"a", " \n"});
  CHECK(split("  ") == V{"  "});
}

TEST_CASE("pretokenize: Unicode white space, letters and numbers", "[pretokenize]") {
  CHECK(gpt2::is_unicode_white_space(0x85));
  CHECK(gpt2::is_unicode_white_space(0xA0));
  CHECK(gpt2::is_unicode_white_space(0x3000));
  CHECK_FALSE(gpt2::is_unicode_white_space(0xFEFF));
  CHECK_FALSE(gpt2::is_unicode_white_space(0x200B));
  CHECK(gpt2::char_class(U'é') == gpt2::CharClass::Letter);
  CHECK(gpt2::char_class(U'漢') == gpt2::CharClass::Letter);
  CHECK(gpt2::char_class(U'٣') == gpt2::CharClass::Number);
  CHECK(gpt2::char_class(U'½') == gpt2::CharClass::Number);
  CHECK(gpt2::char_class(0x301) == gpt2::CharClass::Other);  // a combining mark is not a letter
  CHECK(split("x\xC2\x85 y") == V{"x", "\xC2\x85", " y"});
  CHECK(split("e\xCC\x81t\xC3\xA9") == V{"e", "\xCC\x81", "t\xC3\xA9"});
}

TEST_CASE("pretokenize: invalid UTF-8 bytes are punctuation-like and nothing is lost", "[pretokenize]") {
  CHECK(split("a\xFF\xFE b") == V{"a", "\xFF\xFE", " b"});
  CHECK(split("\xE2\x82") == V{"\xE2\x82"});          // a truncated 3-byte character
  CHECK(split("\xED\xA0\x80") == V{"\xED\xA0\x80"});  // an encoded surrogate: three stray bytes
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string joined;
  for (auto p : pretokenize(all)) joined += p;
  CHECK(joined == all);
}
