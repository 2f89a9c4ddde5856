// Tests of the streaming UTF-8 printer: no character is ever cut, nothing is lost or changed.
#include <string>
#include <vector>

#include "chapters/01_tokenizer/tokenizer.h"
#include "chapters/07_sampling/utf8_stream.h"
#include "common/testing.h"
#include "tests/catch.h"

namespace {

bool is_continuation(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// Feeds the chunks one by one; returns the printed pieces (the last one is flush()).
std::vector<std::string> stream_pieces(const std::vector<std::string>& chunks) {
  gpt2::Utf8Stream stream;
  std::vector<std::string> pieces;
  for (const std::string& c : chunks) pieces.push_back(stream.push(c));
  pieces.push_back(stream.flush());
  return pieces;
}

std::string joined(const std::vector<std::string>& pieces) {
  std::string all;
  for (const std::string& p : pieces) all += p;
  return all;
}

}  // namespace

TEST_CASE("ASCII is printed at once", "[utf8]") {
  gpt2::Utf8Stream stream;
  CHECK(stream.push("Hello") == "Hello");
  CHECK(stream.push(", world") == ", world");
  CHECK(stream.flush().empty());
}

TEST_CASE("a two-byte character split over two tokens is held, then printed whole", "[utf8]") {
  // "café" = 63 61 66 C3 A9; the tokens are "caf\xC3" and "\xA9!".
  gpt2::Utf8Stream stream;
  CHECK(stream.push("caf\xC3") == "caf");
  CHECK(stream.pending() == "\xC3");
  CHECK(stream.push("\xA9!") == "\xC3\xA9!");
  CHECK(stream.flush().empty());
}

TEST_CASE("a four-byte emoji split every possible way is printed once, whole", "[utf8]") {
  const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600
  // All ways to cut the 4 bytes into non-empty pieces (2^3 = 8 compositions).
  for (int mask = 0; mask < 8; ++mask) {
    std::vector<std::string> chunks;
    std::string current;
    for (int i = 0; i < 4; ++i) {
      current += emoji[i];
      if (i == 3 || (mask >> i & 1)) {
        chunks.push_back(current);
        current.clear();
      }
    }
    const auto pieces = stream_pieces(chunks);
    INFO("cut mask " << mask);
    // Nothing before the last byte arrives, then the whole character.
    for (size_t k = 0; k + 2 < pieces.size(); ++k) CHECK(pieces[k].empty());
    CHECK(pieces[pieces.size() - 2] == emoji);
    CHECK(pieces.back().empty());
  }
}

TEST_CASE("valid text cut at every pair of positions streams without breaking a character", "[utf8]") {
  // 1-, 2-, 3- and 4-byte characters: "a é € 😀 z".
  const std::string text = "a \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 z";
  for (size_t i = 0; i <= text.size(); ++i) {
    for (size_t j = i; j <= text.size(); ++j) {
      const std::vector<std::string> chunks = {text.substr(0, i), text.substr(i, j - i), text.substr(j)};
      const auto pieces = stream_pieces(chunks);
      INFO("cuts at " << i << " and " << j);
      REQUIRE(joined(pieces) == text);
      // Every printed piece starts at a character boundary; as they concatenate to valid text,
      // each piece is therefore whole characters.
      for (const std::string& p : pieces) CHECK((p.empty() || !is_continuation(p[0])));
      CHECK(pieces.back().empty());  // valid text leaves nothing to flush
    }
  }
}

TEST_CASE("invalid bytes are passed through unchanged", "[utf8]") {
  gpt2::Utf8Stream stream;
  // A stray continuation byte is not the start of anything: printed at once.
  CHECK(stream.push("x\x80") == "x\x80");
  // A lead byte followed by ASCII can never complete: both are printed as they are.
  CHECK(stream.push("\xC3") == "");
  CHECK(stream.push("A") ==
        "\xC3"
        "A");
  // 0xFF never starts a character.
  CHECK(stream.push("\xFF") == "\xFF");
  // Too many continuation bytes after a two-byte lead.
  CHECK(stream.push("\xC3\xA9\xA9") == "\xC3\xA9\xA9");
  // An incomplete character at the very end comes out of flush(), unchanged.
  CHECK(stream.push("\xE2\x82") == "");
  CHECK(stream.flush() == "\xE2\x82");
  CHECK(stream.flush().empty());
}

TEST_CASE("utf8_complete_prefix", "[utf8]") {
  CHECK(gpt2::utf8_complete_prefix("") == 0);
  CHECK(gpt2::utf8_complete_prefix("abc") == 3);
  CHECK(gpt2::utf8_complete_prefix("ab\xE2") == 2);
  CHECK(gpt2::utf8_complete_prefix("ab\xE2\x82") == 2);
  CHECK(gpt2::utf8_complete_prefix("ab\xE2\x82\xAC") == 5);
  CHECK(gpt2::utf8_complete_prefix("\x80\x80") == 2);
  CHECK(gpt2::utf8_complete_prefix("\xF0\x9F\x98") == 0);
}

TEST_CASE("GPT-2's own tokens split characters, and the stream puts them back together", "[utf8]") {
  // With GPT-2's vocabulary, these characters are cut across tokens (the test checks that some are),
  // so printing token by token without the buffer would print broken characters.
  const gpt2::Tokenizer tok = gpt2::Tokenizer::load(gpt2::data_dir() + "/gpt2");
  const std::string text =
      "Smile \xF0\x9F\x98\x80, caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\xA6\x99!";
  const std::vector<int> ids = tok.encode(text);
  gpt2::Utf8Stream stream;
  std::vector<std::string> pieces;
  int split_tokens = 0;  // tokens whose bytes end inside a character
  for (int id : ids) {
    const std::string_view bytes = tok.token_bytes(id);
    if (gpt2::utf8_complete_prefix(bytes) != bytes.size()) ++split_tokens;
    pieces.push_back(stream.push(bytes));
  }
  pieces.push_back(stream.flush());
  CHECK(split_tokens > 0);
  CHECK(joined(pieces) == text);
  for (const std::string& p : pieces) CHECK((p.empty() || !is_continuation(p[0])));
  CHECK(pieces.back().empty());
}
